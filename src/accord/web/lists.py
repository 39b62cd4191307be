"""The home page (the directories the user may see) and a directory's list of entries:
columns the user picks, sorting by a header, quick search, a filter in the REST API's
grammar, and cursor paging (the REST API's own listing service)."""

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from accord.domain.errors import InvalidQuery
from accord.domain.filters import FilterSyntaxError, parse_filter
from accord.domain.query import SORTABLE_TYPES
from accord.domain.rights import Action
from accord.domain.schema import Directory, Field, Schema
from accord.services import listings
from accord.services.sessions import WebSession
from accord.services.transactions import Transaction
from accord.web.board import board_url, groupable
from accord.web.context import Page, page
from accord.web.values import editable, entry_title, entry_url, shown

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
DEFAULT_COLUMNS = 6
MAX_TRAIL = 50
"""Pages a list remembers to go back to (each by its cursor, in the URL)."""
FIRST_PAGE = "~"
"""A trail's mark for the first page (a cursor is URL-safe base64, never "~")."""
TEXT_LIMITS = {"q": 1000, "filter": 10000, "sort": 1000, "cursor": 4000, "cols": 10000}
"""The longest value each query parameter of a list takes (the REST API's limits)."""


async def home(request: Request) -> Response:
    def work(tx: Transaction, session: WebSession) -> Page:
        rights = session.actor.rights
        shown_ = [d for d in tx.schema.directories if rights.can(Action.VIEW, d)]
        return Page("home.html", {"directories": shown_, "url": entry_url})

    return await page(request, work)


@dataclass(frozen=True, slots=True)
class ListParams:
    q: str
    filter: str
    sort: str
    cursor: str
    cols: str
    trail: tuple[str, ...]
    limit: int = PAGE_SIZE

    @classmethod
    def of(cls, request: Request) -> "ListParams":
        params = request.query_params
        values = {name: params.get(name, "") for name in TEXT_LIMITS}
        if "col" in params:  # the column picker's check boxes
            values["cols"] = ",".join(params.getlist("col"))
        for name, longest in TEXT_LIMITS.items():
            if len(values[name]) > longest:
                raise InvalidQuery(f"{name} is at most {longest} characters")
        back = params.get("back", "")
        trail = tuple(c if c != FIRST_PAGE else "" for c in back.split(".")) if back else ()
        if len(trail) > MAX_TRAIL or len(back) > MAX_TRAIL * TEXT_LIMITS["cursor"]:
            raise InvalidQuery("back names too many pages")
        limit = params.get("limit", "")
        digits = limit.isascii() and limit.isdigit() and len(limit) <= 3
        if limit and not (digits and 1 <= int(limit) <= MAX_PAGE_SIZE):
            raise InvalidQuery(f"limit is 1 to {MAX_PAGE_SIZE}")
        return cls(trail=trail, limit=int(limit or PAGE_SIZE), **values)

    def url(self, directory: Directory, **changes: object) -> str:
        """This list's URL, with `changes` (a new cursor and trail, sort, columns)."""
        values: dict[str, object] = {
            "q": self.q,
            "filter": self.filter,
            "sort": self.sort,
            "cols": self.cols,
            "limit": self.limit if self.limit != PAGE_SIZE else "",
            "cursor": "",
            "trail": (),
        }
        values.update(changes)
        trail = values.pop("trail")
        assert isinstance(trail, tuple)
        query = {k: v for k, v in values.items() if v}
        if trail:
            query["back"] = ".".join(c or FIRST_PAGE for c in trail[-MAX_TRAIL:])
        return entry_url(directory) + ("?" + urlencode(query) if query else "")


async def entries_list(request: Request) -> Response:
    code = request.path_params["code"]

    def work(tx: Transaction, session: WebSession) -> Page:
        directory = tx.schema.find_directory(code)
        session.actor.rights.require_on(Action.VIEW, directory)
        params = ListParams.of(request)
        columns = _columns(tx.schema, directory, params.cols)
        grouping = groupable(tx.schema, directory)
        values = {
            "directory": directory,
            "params": params,
            "columns": columns,
            "all_fields": tx.schema.fields_of(directory),
            "chosen": {f.code for f in columns},
            "can_add": session.actor.rights.can(Action.ADD, directory),
            "can_edit": session.actor.rights.can(Action.EDIT, directory),
            "can_remove": session.actor.rights.can(Action.REMOVE, directory),
            "bulk_fields": editable(tx.schema, directory),
            "title": lambda entry: entry_title(tx.schema, directory, entry),
            "here": params.url(directory, cursor=params.cursor, trail=params.trail),
            "board_url": board_url(directory, grouping[0]) if grouping else None,
            "url": entry_url,
            "sortable": lambda f: f.type in SORTABLE_TYPES and not f.multiple,
            "error": None,
            "rows": [],
            "next_url": None,
            "previous_url": None,
        }
        try:
            values.update(_rows(tx, session, directory, params, columns))
        except (InvalidQuery, FilterSyntaxError) as error:
            values["error"] = error.message
            return Page("list.html", values, 400)
        return Page("list.html", values)

    return await page(request, work)


def _rows(
    tx: Transaction,
    session: WebSession,
    directory: Directory,
    params: ListParams,
    columns: list[Field],
) -> dict[str, object]:
    parsed = parse_filter(params.filter) if params.filter.strip() else None
    query = listings.ListQuery(parsed, params.q, params.sort, params.cursor, params.limit)
    found = listings.list_entries(tx, directory, query, actor=session.actor)
    rows = [
        (entry, [shown(field, entry, tx.schema) for field in columns]) for entry in found.entries
    ]
    next_url = previous_url = None
    if found.next_cursor is not None:
        trail = (*params.trail, params.cursor)
        next_url = params.url(directory, cursor=found.next_cursor, trail=trail)
    if params.cursor:
        back = params.trail[-1] if params.trail else ""
        previous_url = params.url(directory, cursor=back, trail=params.trail[:-1])
    return {"rows": rows, "next_url": next_url, "previous_url": previous_url}


def _columns(schema: Schema, directory: Directory, cols: str) -> list[Field]:
    """The fields `cols` names (codes, comma-separated), else the first few."""
    if not cols.strip():
        return list(schema.fields_of(directory)[:DEFAULT_COLUMNS])
    columns: list[Field] = []
    for code in (c.strip() for c in cols.split(",") if c.strip()):
        field = schema.field_by_code(directory, code)
        if field is None:
            raise InvalidQuery(f"No field {code!r} in {directory.name}")
        if field not in columns:
            columns.append(field)
    return columns
