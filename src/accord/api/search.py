"""`GET /search`: the first entries of every directory the caller may view that hold a piece
of text, for a search box and link pickers (search-as-you-type)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from accord.api import render
from accord.api.context import json_response, read
from accord.domain.users import Actor
from accord.services import search
from accord.services.transactions import Transaction

router = APIRouter(tags=["search"])
DIRECTORIES_LENGTH = 2000
"""The longest `directories=` (20 codes of up to 64 characters, with room to spare)."""

DESCRIPTION = f"""\
For each directory the caller may view (and the token reaches), in the order
`GET /directories` lists them, the first `limit` entries that hold `q`, as `q=` finds
them in a list: every word, case-insensitively (Cyrillic look-alikes read as Latin), in
the name or any text field. Directories without a match are left out; `more` says
whether more entries match than those shown (list the directory with the same `q` to
page through them all).

The best matches come first: the entries whose name starts with the words typed, then
the others, each in id order (as a list orders `q` when no `sort` is given).

At most {search.MAX_DIRECTORIES} directories are searched (two queries each): with more
visible, the first {search.MAX_DIRECTORIES} as listed; `directories=` names others. A
name in `directories=` that is unknown, or of a directory the caller may not view, is
left out like a directory without a match, never an error: a search does not tell which
directories exist.
"""


class FoundModel(BaseModel):
    id: int
    name: str = Field(description="The entry's name (its directory's name field)")


class DirectoryRefModel(BaseModel):
    code: str
    name: str


class DirectoryResultModel(BaseModel):
    directory: DirectoryRefModel
    items: list[FoundModel]
    more: bool = Field(description="Whether more entries than these match")


class SearchResultModel(BaseModel):
    q: str = Field(description="The text searched for, trimmed")
    results: list[DirectoryResultModel]


@router.get(
    "/search",
    response_model=SearchResultModel,
    summary="Find entries of every directory by a piece of text",
    description=DESCRIPTION,
)
async def search_everywhere(
    request: Request,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=search.MAX_TEXT,
            pattern=r"\S",
            description=f"The text to find: 1 to {search.MAX_TEXT} characters, not only spaces",
        ),
    ],
    limit: Annotated[
        int, Query(ge=1, le=search.MAX_LIMIT, description="Entries per directory")
    ] = search.DEFAULT_LIMIT,
    directories: Annotated[
        str | None,
        Query(
            max_length=DIRECTORIES_LENGTH,
            description=f"Search only these directories: codes, comma-separated (at most"
            f" {search.MAX_DIRECTORIES})",
        ),
    ] = None,
) -> Response:
    names = None if directories is None else directories.split(",")

    def work(tx: Transaction, actor: Actor) -> bytes:
        found = search.search_directories(tx, q, limit=limit, names=names, actor=actor)
        return render.dumps({"q": q.strip(), "results": [_result_json(r) for r in found]})

    return json_response(await read(request, work))


def _result_json(result: search.DirectoryResult) -> dict[str, Any]:
    return {
        "directory": {"code": result.directory.code, "name": result.directory.name},
        "items": [{"id": e.id, "name": e.name} for e in result.entries],
        "more": result.more,
    }
