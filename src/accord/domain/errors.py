"""Domain errors: each has a stable machine-readable code and a human message.

The messages are the legacy API's exact wording (docs/legacy-api.md, section 7); other
edges map the code to their own format in one place.
"""

from enum import Enum
from typing import ClassVar

from accord.domain.text import printable


class Family(Enum):
    """What kind of refusal an error is, and the HTTP status that says it (as zulip's
    errors carry theirs): a new error needs no entry in any table, only its family. An
    edge may answer a family otherwise where it means something else there (a page's
    stale edit is a 409: no If-Match was sent)."""

    REFUSED = ("refused", 422)
    """The request was understood and its content refused (the default)."""
    MALFORMED = ("malformed", 400)
    """The request itself cannot be read: a query or form that is not one."""
    UNAUTHENTICATED = ("unauthenticated", 401)
    FORBIDDEN = ("forbidden", 403)
    NOT_FOUND = ("not_found", 404)
    CONFLICT = ("conflict", 409)
    """It clashes with what is stored (a unique value, an existing name)."""
    STALE = ("stale", 412)
    """It was based on a version of an entry that is no longer the current one."""
    TOO_LARGE = ("too_large", 413)
    BUSY = ("busy", 503)
    """The database gave up on it (a statement timeout): trying later may work."""
    UPSTREAM = ("upstream", 502)
    """Jira, which Accord called for it, failed."""
    MISCONFIGURED = ("misconfigured", 500)
    """The server's own configuration is wrong: the administrator must act."""

    def __init__(self, name: str, status: int) -> None:
        self.status = status


class AccordError(Exception):
    """Base of every error a user can cause; never a crash."""

    code: ClassVar[str] = "error"
    family: ClassVar[Family] = Family.REFUSED
    field: str | None = None
    """The code of the field the error is about, where there is one."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def about(self, field_code: str) -> "AccordError":
        self.field = field_code
        return self


class ApiKeyNotConfigured(AccordError):
    code = "api_key_not_configured"

    def __init__(self) -> None:
        super().__init__("API key is not configured")


class WrongApiKey(AccordError):
    code = "wrong_api_key"

    def __init__(self) -> None:
        super().__init__("Wrong API key")


class UserNotFound(AccordError):
    code = "user_not_found"
    family = Family.NOT_FOUND

    def __init__(self) -> None:
        super().__init__("User not found")


class PermissionDenied(AccordError):
    code = "permission_denied"
    family = Family.FORBIDDEN

    def __init__(self, right_name: str) -> None:
        super().__init__(f"Permission denied: {right_name}")
        self.right_name = right_name


class ParameterRequired(AccordError):
    code = "parameter_required"

    def __init__(self, name: str) -> None:
        super().__init__(f"Parameter {printable(name)} is required")
        self.name = name


class FieldRequired(ParameterRequired):
    """A new entry lacks a required field (the legacy API says "Parameter <name> ...")."""

    code = "field_required"


class InvalidParameter(AccordError):
    code = "invalid_parameter"

    def __init__(self, name: str, value: str) -> None:
        super().__init__(f"Invalid value for parameter {printable(name)}: {printable(value)}")
        self.name = name


class EntryNotFound(AccordError):
    code = "entry_not_found"
    family = Family.NOT_FOUND

    def __init__(self, directory_code: str) -> None:
        noun = {"CLIENTS": "Company", "CONTACTS": "Contact"}.get(directory_code, "Entry")
        super().__init__(f"{noun} not found")
        self.directory_code = directory_code


class LinkNotFound(AccordError):
    """An entry is not linked to an issue (in the role named, if one was)."""

    code = "link_not_found"
    family = Family.NOT_FOUND

    def __init__(self, issue_key: str) -> None:
        super().__init__(f"The entry is not linked to issue {printable(issue_key)}")


class NoIdsLeft(AccordError):
    """A directory whose ids are all handed out (ids end at `entries.MAX_ID`)."""

    code = "no_ids_left"

    def __init__(self, directory_name: str) -> None:
        super().__init__(f"No ids are left in {printable(directory_name)}")


class SchemaFull(AccordError):
    """No directory or field can be added any more: their ids have reached the largest
    the text index's keys hold (`store.texts`)."""

    code = "schema_full"

    def __init__(self, what: str, largest: int) -> None:
        super().__init__(f"No more {what} can be added: their ids have reached {largest:,}")


class DirectoryNotFound(AccordError):
    code = "directory_not_found"
    family = Family.NOT_FOUND

    def __init__(self, name: str) -> None:
        super().__init__(f"Directory not found: {printable(name)}")


class DictionaryNotFound(AccordError):
    code = "dictionary_not_found"
    family = Family.NOT_FOUND

    def __init__(self, name: str) -> None:
        super().__init__(f"Dictionary not found: {printable(name)}")


class FieldNotFound(AccordError):
    code = "field_not_found"
    family = Family.NOT_FOUND

    def __init__(self, name: str) -> None:
        super().__init__(f"Field not found: {printable(name)}")
        self.name = name


class FieldReadOnly(AccordError):
    code = "field_read_only"

    def __init__(self, name: str) -> None:
        super().__init__(f"Field is read-only: {printable(name)}")
        self.name = name


class InvalidValue(AccordError):
    code = "invalid_value"

    def __init__(self, field_name: str, value: str) -> None:
        super().__init__(f"Invalid value for field {field_name}: {printable(value)}")
        self.field_name = field_name


class DuplicateValue(AccordError):
    code = "duplicate_value"
    family = Family.CONFLICT

    def __init__(self, field_name: str, value: str) -> None:
        super().__init__(
            f"Value '{printable(value)}' of unique field '{field_name}' already exists"
        )
        self.field_name = field_name


class DictionaryValueExists(AccordError):
    code = "dictionary_value_exists"
    family = Family.CONFLICT

    def __init__(self, value: str, dictionary_name: str) -> None:
        super().__init__(
            f"Value '{printable(value)}' already exists in dictionary '{dictionary_name}'"
        )


class DictionaryValueNotFound(AccordError):
    code = "dictionary_value_not_found"
    family = Family.NOT_FOUND

    def __init__(self, value: str, dictionary_name: str) -> None:
        super().__init__(f"Value '{printable(value)}' not found in dictionary '{dictionary_name}'")


class JiraNotConnected(AccordError):
    code = "jira_not_connected"
    family = Family.CONFLICT

    def __init__(self) -> None:
        super().__init__("Jira is not connected")


class JiraUnavailable(AccordError):
    """Jira could not be reached, or answered with an error of its own (HTTP 502)."""

    code = "jira_unavailable"
    family = Family.UPSTREAM
    retry_after: float = 0.0
    """Seconds Jira asked to wait (`Retry-After`) before the client gave up, if it did."""


class JiraRefused(AccordError):
    """Jira refused the credential or the account's access (401, 403): nothing was saved."""

    code = "jira_refused"


class SecretKeyUnusable(AccordError):
    """The key that encrypts stored secrets is missing, unreadable or not the one used."""

    code = "secret_key_unusable"
    family = Family.MISCONFIGURED


class Conflict(AccordError):
    """A name an administrator chose is already taken (a user, group, field, ...)."""

    code = "conflict"
    family = Family.CONFLICT


class InvalidToken(AccordError):
    """No usable bearer token: missing, unknown, revoked or expired (HTTP 401)."""

    code = "invalid_token"
    family = Family.UNAUTHENTICATED


class StaleVersion(AccordError):
    """A write named a version of an entry that is no longer current (HTTP 412)."""

    code = "stale_version"
    family = Family.STALE

    def __init__(self, current: int) -> None:
        super().__init__(
            f"The entry changed since version was read; it is now at version {current}"
        )
        self.current = current


class InvalidFields(AccordError):
    """Several fields refused at once; the message is the first one's."""

    code = "invalid_fields"

    def __init__(self, errors: "FieldErrors") -> None:
        super().__init__(errors[0][1].message)
        self.errors = errors


FieldErrors = list[tuple[str, AccordError]]
"""(field code, what is wrong with its value), in the order the fields were given."""


def refuse(errors: FieldErrors) -> None:
    """Raise the one field error, or all of them as InvalidFields; nothing if none."""
    if errors:
        raise errors[0][1] if len(errors) == 1 else InvalidFields(errors)


class InvalidQuery(AccordError):
    """A filter, sort, cursor, parameter or header that cannot be applied (a 400 over REST)."""

    code = "invalid_query"
    family = Family.MALFORMED
