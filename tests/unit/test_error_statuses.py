"""Every error a user can cause answers a deliberate HTTP status, its family's: this list
names each error class of the package once, so a new one fails here until someone
decides what it answers."""

import importlib
import pkgutil
from collections.abc import Iterator

import orjson
import pytest

import accord
from accord.api import problems
from accord.domain.errors import AccordError

REST_STATUS = {
    "AccordError": 422,
    "ApiError": None,  # its family is given with each one
    "ApiKeyNotConfigured": 422,
    "BackupRefused": 422,
    "BadForm": 400,
    "BatchError": 422,
    "BatchRefused": 422,
    "BuiltinField": 422,
    "BulkRefused": 422,
    "Conflict": 409,
    "CsrfRefused": 403,
    "DictionaryNotFound": 404,
    "DictionaryValueExists": 409,
    "DictionaryValueNotFound": 404,
    "DirectoryNotFound": 404,
    "DuplicateValue": 409,
    "ExportRefused": 422,
    "EntryNotFound": 404,
    "FieldNotFound": 404,
    "FieldReadOnly": 422,
    "FieldRequired": 422,
    "FilterSyntaxError": 400,
    "FormTooLarge": 413,
    "GrantNotFound": 404,
    "GroupNotFound": 404,
    "IdempotencyMismatch": 409,
    "IdempotencyRace": 422,
    "ImportRefused": 422,
    "InvalidCredential": 422,
    "InvalidDirectoryCode": 422,
    "InvalidEmail": 422,
    "InvalidFieldOption": 422,
    "InvalidFields": 422,
    "InvalidJiraAddress": 422,
    "InvalidName": 422,
    "InvalidParameter": 422,
    "InvalidPassword": 422,
    "InvalidQuery": 400,
    "InvalidToken": 401,
    "InvalidValue": 422,
    "JiraNotConnected": 409,
    "JiraNotFound": 502,
    "JiraRefused": 422,
    "JiraUnavailable": 502,
    "LinkNotFound": 404,
    "MemberNotFound": 404,
    "NoIdsLeft": 422,
    "OneHolderRequired": 422,
    "OwnAccount": 422,
    "ParameterRequired": 422,
    "PermissionDenied": 403,
    "SchemaFull": 422,
    "SecretKeyUnusable": 500,
    "SessionInvalid": 422,
    "SignInRefused": 422,
    "StaleVersion": 412,
    "StatementCancelled": 503,
    "UnknownCommand": 422,
    "UnknownRight": 422,
    "UserNotFound": 404,
    "UserNotFoundByLogin": 404,
    "WrongApiKey": 422,
}


def _every_error() -> Iterator[type[AccordError]]:
    for module in pkgutil.walk_packages(accord.__path__, "accord."):
        importlib.import_module(module.name)
    found: list[type[AccordError]] = [AccordError]
    for cls in found:
        found.extend(cls.__subclasses__())
    yield from dict.fromkeys(found)


ERRORS = sorted(_every_error(), key=lambda cls: cls.__name__)


def test_every_error_class_is_listed_once() -> None:
    found = {cls.__name__ for cls in ERRORS}
    assert found - set(REST_STATUS) == set(), "new error classes: list each with its status"
    assert set(REST_STATUS) - found == set(), "listed classes that no longer exist"
    assert len(found) == len(ERRORS), "two error classes of one name"


@pytest.mark.parametrize("error", ERRORS, ids=lambda cls: cls.__name__)
def test_each_error_answers_its_status(error: type[AccordError]) -> None:
    expected = REST_STATUS[error.__name__]
    if expected is None:
        return
    raised = error.__new__(error)  # each class takes its own arguments; the status is its class's
    AccordError.__init__(raised, "refused")
    raised.__dict__.update(errors=[], position=0)  # what the ones listing fields or places hold
    reply = problems.from_error(raised)
    assert reply.status_code == expected
    assert orjson.loads(reply.body)["code"] == error.code


def test_a_missing_thing_named_in_a_body_is_content_refused() -> None:
    """A 404 is about the URL; a field of the body naming nothing is a 422."""
    from accord.domain.errors import DirectoryNotFound

    assert problems.from_error(DirectoryNotFound("NOPE").about("target")).status_code == 422
