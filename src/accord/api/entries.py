"""Entries of any directory: `/directories/{code}/entries`, also as `/companies`, `/contacts`."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from accord.api import batch, render
from accord.api.context import json_response, read, respond, write, write_once
from accord.api.exact_json import ExactJsonRoute
from accord.api.schemas import (
    ENTRY_REPLIES,
    IDEMPOTENCY_KEY,
    IF_MATCH_PATTERN,
    LIST_TEXT_LENGTH,
    NEW_ENTRY_REPLIES,
    NOT_MODIFIED,
    EntryModel,
    HistoryModel,
    PageModel,
    SearchModel,
)
from accord.domain.entries import MAX_ID, Entry, EntryRef
from accord.domain.errors import InvalidQuery
from accord.domain.filters import Filter, filter_from_json, parse_filter
from accord.domain.schema import Directory, Schema
from accord.domain.users import Actor
from accord.services import entries, listings
from accord.services.idempotency import Reply
from accord.services.transactions import Transaction

MERGE_PATCH = "application/merge-patch+json"
ID_DIGITS = len(str(MAX_ID))
"""The most digits an id has (leading zeros aside)."""


class _EntryIdConvertor(Convertor[int]):
    """An entry id in a path: any run of ASCII digits, as Starlette's `int` convertor
    takes, but a number longer than any id is read as one past the largest, so it is
    refused as every id out of range is (422) rather than handed to `int()`, which
    refuses more than 4300 digits with a ValueError (a 500 from inside the router)."""

    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        digits = value.lstrip("0") or "0"
        return int(digits) if len(digits) <= ID_DIGITS else MAX_ID + 1

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("entry_id", _EntryIdConvertor())
ENTRY = "/{entry_id:entry_id}"
"""An entry's path: only digits route to it, so `/companies/abc` names nothing there (404
`not_found`, as any unknown path) and `PUT /companies/search` is a 405; an id that is a
number out of range (`0`, or a thousand digits) is refused as a path the API understood
(422)."""
EntryId = Annotated[int, Path(ge=1, le=MAX_ID, description="The entry's id in its directory")]
Payload = Annotated[dict[str, Any], Body(description="Field values by field code")]
IfMatch = Annotated[
    str | None,
    Header(
        description='Write only if the entry is at this ETag (`"3"`; `*`: any version)',
        json_schema_extra={"pattern": IF_MATCH_PATTERN},
    ),
]
WRITE_ONCE = {"parameters": [IDEMPOTENCY_KEY]}
VERSION_DIGITS = 19
"""The most digits of a version (a version counts writes: 2^63 is never reached)."""
NO_VERSION = 10**VERSION_DIGITS
"""A version no entry is at: what an If-Match of more digits names."""
DEFAULT_LIMIT = 50


def routes(base: str, code_of: Callable[..., Awaitable[str]], tag: str) -> APIRouter:
    """The entry routes under `base`, for the directory `code_of` names."""
    router = APIRouter(prefix=base, tags=[tag], route_class=ExactJsonRoute)
    Code = Annotated[str, Depends(code_of)]  # noqa: N806 - a type, named as one

    @router.get("", response_model=PageModel, summary="List entries")
    async def list_entries(
        request: Request,
        code: Code,
        filter: Annotated[str | None, Query(description="A filter expression")] = None,
        q: Annotated[
            str,
            Query(
                max_length=LIST_TEXT_LENGTH["q"],
                description=(
                    "Words, each found in the name or a text field; without `sort`, the"
                    " entries whose name starts with them come first"
                ),
            ),
        ] = "",
        sort: Annotated[
            str, Query(max_length=LIST_TEXT_LENGTH["sort"], description="e.g. -org_name,id")
        ] = "",
        fields: Annotated[
            str, Query(max_length=LIST_TEXT_LENGTH["fields"], description="Field codes to return")
        ] = "",
        limit: Annotated[int, Query(ge=1, le=listings.MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str, Query(max_length=LIST_TEXT_LENGTH["cursor"])] = "",
        count: Annotated[bool, Query(description="Also return the total")] = False,
    ) -> Response:
        parsed = parse_filter(filter) if filter is not None else None
        query = listings.ListQuery(parsed, q, sort, cursor, limit, count)
        return await page_reply(request, code, query, fields)

    @router.post("/search", response_model=PageModel, summary="Search entries with a JSON filter")
    async def search_entries(request: Request, code: Code, search: SearchModel) -> Response:
        query = listings.ListQuery(
            _search_filter(search.filter),
            search.q,
            search.sort,
            search.cursor,
            search.limit,
            search.count,
        )
        return await page_reply(request, code, query, ",".join(search.fields))

    @router.post(
        "/batch",
        response_model=batch.BatchReplyModel,
        summary="Create, update or upsert up to 1000 entries, with a result for each",
        openapi_extra=WRITE_ONCE,
    )
    async def write_batch(request: Request, code: Code, body: batch.BatchModel) -> Response:
        return await batch.write_batch(request, code, body)

    @router.get(
        ENTRY,
        response_model=EntryModel,
        responses={**ENTRY_REPLIES, **NOT_MODIFIED},
        summary="Read an entry",
    )
    async def get_entry(
        request: Request,
        code: Code,
        entry_id: EntryId,
        if_none_match: Annotated[
            str | None, Header(description="ETags the caller holds: 304 if one is current")
        ] = None,
    ) -> Response:
        return await entry_reply(request, code, entry_id, if_none_match)

    @router.post(
        "",
        status_code=201,
        response_model=EntryModel,
        responses=NEW_ENTRY_REPLIES,
        summary="Create an entry",
        openapi_extra=WRITE_ONCE,
    )
    async def create_entry(request: Request, code: Code, payload: Payload) -> Response:
        def work(tx: Transaction, actor: Actor) -> Reply:
            directory = tx.schema.find_directory(code)
            inputs, unknown = entries.json_inputs(tx.schema, directory, payload)
            entry = entries.create_entry(tx, directory, inputs, actor=actor, refused=unknown)
            reply = _entry_reply(tx, 201, entry, directory)
            reply.headers["Location"] = f"{request.url.path.rstrip('/')}/{entry.id}"
            return reply

        return await write_once(request, work)

    @router.put(
        ENTRY,
        response_model=EntryModel,
        responses=ENTRY_REPLIES,
        summary="Replace an entry",
        openapi_extra=WRITE_ONCE,
    )
    async def replace_entry(
        request: Request, code: Code, entry_id: EntryId, payload: Payload, if_match: IfMatch = None
    ) -> Response:
        return await _update(request, code, entry_id, payload, if_match, replace=True)

    @router.patch(
        ENTRY,
        response_model=EntryModel,
        responses=ENTRY_REPLIES,
        summary="Change some fields (JSON Merge Patch, RFC 7396)",
        openapi_extra={
            **WRITE_ONCE,
            "requestBody": {"content": {MERGE_PATCH: {"schema": {"type": "object"}}}},
        },
    )
    async def patch_entry(
        request: Request, code: Code, entry_id: EntryId, payload: Payload, if_match: IfMatch = None
    ) -> Response:
        return await _update(request, code, entry_id, payload, if_match, replace=False)

    @router.delete(ENTRY, status_code=204, summary="Delete an entry")
    async def delete_entry(
        request: Request, code: Code, entry_id: EntryId, if_match: IfMatch = None
    ) -> Response:
        expected = _expected_version(if_match)

        def work(tx: Transaction, actor: Actor) -> None:
            directory = tx.schema.find_directory(code)
            entries.delete_entry(
                tx, directory, EntryRef(id=entry_id), actor=actor, expected_version=expected
            )

        await write(request, work)
        return Response(status_code=204)

    @router.get(f"{ENTRY}/history", response_model=HistoryModel, summary="An entry's history")
    async def entry_history(request: Request, code: Code, entry_id: EntryId) -> Response:
        def work(tx: Transaction, actor: Actor) -> bytes:
            directory = tx.schema.find_directory(code)
            items = listings.entry_history(tx, directory, entry_id, actor=actor)
            return render.dumps({"items": [render.change_json(item) for item in items]})

        return json_response(await read(request, work))

    return router


async def _update(
    request: Request,
    code: str,
    entry_id: int,
    payload: dict[str, Any],
    if_match: str | None,
    *,
    replace: bool,
) -> Response:
    expected = _expected_version(if_match)

    def work(tx: Transaction, actor: Actor) -> Reply:
        directory = tx.schema.find_directory(code)
        inputs, unknown = entries.json_inputs(tx.schema, directory, payload, replace=replace)
        entry = entries.update_entry(
            tx,
            directory,
            EntryRef(id=entry_id),
            inputs,
            actor=actor,
            expected_version=expected,
            refused=unknown,
        )
        return _entry_reply(tx, 200, entry, directory)

    return await write_once(request, work)


# The reads, as both the routes above and `api.direct` answer them


async def entry_reply(
    request: Request, code: str, entry_id: int, if_none_match: str | None
) -> Response:
    """An entry of the directory `code` (304 if If-None-Match names its version)."""

    def work(tx: Transaction, actor: Actor) -> Reply:
        directory = tx.schema.find_directory(code)
        entry = entries.get_entry(tx, directory, EntryRef(id=entry_id), actor=actor)
        return _entry_reply(tx, 200, entry, directory)

    reply = await read(request, work, brief=True)
    if if_none_match is not None and _none_match(if_none_match, reply.headers["ETag"]):
        return Response(status_code=304, headers={"ETag": reply.headers["ETag"]})
    return respond(reply)


async def page_reply(
    request: Request, code: str, query: listings.ListQuery, fields: str
) -> Response:
    """A page of the directory `code`'s entries, with the `fields` named (all: "")."""
    return json_response(
        await read(request, lambda tx, actor: _page(tx, actor, code, query, fields))
    )


def _page(
    tx: Transaction, actor: Actor, code: str, query: listings.ListQuery, fields: str
) -> bytes:
    directory = tx.schema.find_directory(code)
    only = _only(fields, directory, tx.schema)
    page = listings.list_entries(tx, directory, query, actor=actor)
    return render.dumps(render.page_json(page, directory, tx.schema, only))


def _only(fields: str, directory: Directory, schema: Schema) -> set[str] | None:
    names = {f.strip() for f in fields.split(",") if f.strip()}
    if not names:
        return None
    known = {f.code for f in schema.fields_of(directory)} | set(render.SYSTEM_KEYS)
    unknown = sorted(names - known)
    if unknown:
        raise InvalidQuery(f"Unknown field(s) in fields: {', '.join(unknown)}")
    return names


def _search_filter(value: Any) -> Filter | None:
    if value is None:
        return None
    if isinstance(value, str):
        return parse_filter(value)
    return filter_from_json(value)


def _entry_reply(tx: Transaction, status: int, entry: Entry, directory: Directory) -> Reply:
    entry = entries.with_contacts(tx, directory, entry)
    body = render.dumps(render.entry_json(entry, directory, tx.schema))
    return Reply(status, body, {"ETag": f'"{entry.version}"'})


def _etags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",")]


def _none_match(header: str, etag: str) -> bool:
    """Whether If-None-Match names the current version (`*` names any; RFC 9110 13.1.2)."""
    return header.strip() == "*" or etag in _etags(header)


def _expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names (`"3"`, `W/"3"`); `*` asks for none.

    A version of more digits than any entry's is one no entry is at (a 412, as any stale
    version), read without `int()`, which refuses over 4300 digits."""
    if if_match is None or if_match.strip() == "*":
        return None
    tags = _etags(if_match)
    version = tags[0][1:-1]
    quoted = len(tags[0]) >= 2 and tags[0][0] == tags[0][-1] == '"'
    # isdigit() alone takes "²" and "١", which int() refuses or reads as another digit
    if len(tags) != 1 or not quoted or not (version.isascii() and version.isdigit()):
        raise InvalidQuery('If-Match takes one ETag this API gave, like "3"')
    digits = version.lstrip("0") or "0"
    return int(digits) if len(digits) <= VERSION_DIGITS else NO_VERSION
