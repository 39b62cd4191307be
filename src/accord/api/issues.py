"""Issue links: the entries linked to a Jira issue, each in a role, and the issues of an
entry. The same links `setcrmproperties` writes and `getContactEmail` reads."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from accord.api import render
from accord.api.context import json_response, read, write, write_once
from accord.api.entries import ENTRY, EntryId
from accord.domain.entries import MAX_ID
from accord.domain.errors import DirectoryNotFound, EntryNotFound
from accord.domain.names import MAX_NAME_LENGTH
from accord.domain.schema import Directory
from accord.domain.users import Actor
from accord.services import issues
from accord.services.idempotency import Reply
from accord.services.issues import MAX_FIELD_KEY_LENGTH, MAX_ISSUE_KEY_LENGTH, IssueLink
from accord.services.transactions import Transaction

router = APIRouter(tags=["issues"])
IssueKey = Annotated[
    str,
    Path(max_length=MAX_ISSUE_KEY_LENGTH, description="A Jira issue key, `PROJ-123`"),
]
DirectoryCode = Annotated[str, Path(max_length=MAX_NAME_LENGTH, description="Directory code")]
ROLE_TEXT = "The key of the CRM field that links the entry, e.g. `customfield_10100`"
LINKS = "/issues/{key}/links"


class NewLink(BaseModel):
    """An entry to link to the issue, and the role the link plays."""

    model_config = ConfigDict(extra="forbid", strict=True)
    directory: str = Field(
        min_length=1, max_length=MAX_NAME_LENGTH, description="A directory's code"
    )
    id: int = Field(ge=1, le=MAX_ID, description="The entry's id in its directory")
    role: str = Field(min_length=1, max_length=MAX_FIELD_KEY_LENGTH, description=ROLE_TEXT)


class IssueLinkModel(BaseModel):
    issue: str = Field(description="The issue's key")
    directory: str = Field(description="The entry's directory's code")
    id: int = Field(description="The entry's id in its directory")
    name: str = Field(description="The entry's name")
    role: str = Field(description=ROLE_TEXT)


class IssueLinkListModel(BaseModel):
    items: list[IssueLinkModel]


@router.get(
    LINKS,
    response_model=IssueLinkListModel,
    summary="The entries linked to an issue (of the directories you may view)",
)
async def list_links(request: Request, key: IssueKey) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        return _items(issues.issue_links(tx, key, actor=actor))

    return json_response(await read(request, work))


@router.post(
    LINKS,
    status_code=201,
    response_model=IssueLinkModel,
    responses={200: {"model": IssueLinkModel, "description": "The entry was linked so already"}},
    summary="Link an entry to an issue in a role (right: edit the entry's directory)",
)
async def add_link(request: Request, key: IssueKey, new: NewLink) -> Response:
    def work(tx: Transaction, actor: Actor) -> Reply:
        directory = _named(tx, new.directory)
        try:
            link, added = issues.link_entry(tx, key, directory, new.id, new.role, actor=actor)
        except EntryNotFound as error:
            raise error.about("id") from None  # the body names it: a 422, not a 404
        return Reply(201 if added else 200, render.dumps(_link_json(link)), {})

    return await write_once(request, work)


@router.delete(
    LINKS + "/{code}" + ENTRY,
    status_code=204,
    summary="Unlink an entry from an issue, in one role or in all (right: edit the entry's "
    "directory); 404 if it is not linked so",
)
async def remove_link(
    request: Request,
    key: IssueKey,
    code: DirectoryCode,
    entry_id: EntryId,
    role: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_FIELD_KEY_LENGTH, description=ROLE_TEXT + "; all"),
    ] = None,
) -> Response:
    def work(tx: Transaction, actor: Actor) -> None:
        directory = tx.schema.find_directory(code)
        issues.unlink_entry(tx, key, directory, entry_id, role, actor=actor)

    await write(request, work)
    return Response(status_code=204)


@router.get(
    "/directories/{code}/entries" + ENTRY + "/issues",
    response_model=IssueLinkListModel,
    summary="The issues an entry is linked to",
)
async def entry_issues(request: Request, code: DirectoryCode, entry_id: EntryId) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        directory = tx.schema.find_directory(code)
        return _items(issues.entry_issues(tx, directory, entry_id, actor=actor))

    return json_response(await read(request, work))


def _named(tx: Transaction, code: str) -> Directory:
    try:
        return tx.schema.find_directory(code)
    except DirectoryNotFound as error:
        raise error.about("directory") from None


def _items(links: list[IssueLink]) -> bytes:
    return render.dumps({"items": [_link_json(link) for link in links]})


def _link_json(link: IssueLink) -> dict[str, object]:
    return {
        "issue": link.issue_key,
        "directory": link.directory.code,
        "id": link.entry_id,
        "name": link.name,
        "role": link.role,
    }
