"""The hottest REST reads, answered by plain Starlette routes ahead of FastAPI's.

A GET of one entry or of a page of entries is what integrations send most. FastAPI's
routing and dependency solving cost such a call about a millisecond, several times
the read itself (as the legacy API found, which is a plain route for that reason). So
a request that is plainly valid, one with a bearer token and only known parameters
that parse, is answered here, by the functions the FastAPI routes call
(`api.entries.entry_reply`, `page_reply`). Anything else falls through to the FastAPI
route: the refusals (a missing token, an unknown parameter, a limit out of range) keep
one implementation and one wording, and the FastAPI routes stay the OpenAPI document.
"""

from collections.abc import Awaitable, Callable, Mapping

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from accord.api import entries
from accord.api.query_text import first_unreadable
from accord.api.schemas import LIST_TEXT_LENGTH
from accord.domain.entries import MAX_ID
from accord.domain.filters import parse_filter
from accord.services import listings

BOOLEANS = {"true": True, "false": False}

Accepts = Callable[[Scope, Mapping[str, str], QueryParams], bool]


class DirectRoute(Route):
    """A GET route that takes only the requests `accepts` finds plainly valid."""

    def __init__(
        self, path: str, endpoint: Callable[[Request], Awaitable[Response]], accepts: Accepts
    ) -> None:
        super().__init__(path, endpoint, methods=["GET"], include_in_schema=False)
        self.accepts = accepts

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "GET" or not _has_bearer(scope):
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        query = QueryParams(scope.get("query_string", b""))
        if not self.accepts(scope, child["path_params"], query):
            return Match.NONE, {}
        return match, child


def routes(prefix: str) -> list[BaseRoute]:
    """The direct routes of the entries of every directory, under `prefix`."""
    bases: list[tuple[str, Callable[[Mapping[str, str]], str]]] = [
        ("/companies", lambda _: "CLIENTS"),
        ("/contacts", lambda _: "CONTACTS"),
        ("/directories/{code}/entries", lambda params: params["code"]),
    ]
    found: list[BaseRoute] = []
    for base, code_of in bases:
        found.append(DirectRoute(f"{prefix}{base}/{{entry_id}}", _entry(code_of), _entry_ok))
        found.append(DirectRoute(f"{prefix}{base}", _page(code_of), _page_ok))
    return found


def _entry(code_of: Callable[[Mapping[str, str]], str]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        params = request.path_params
        if_none_match = request.headers.get("if-none-match")
        return await entries.entry_reply(
            request, code_of(params), int(params["entry_id"]), if_none_match
        )

    return endpoint


def _page(code_of: Callable[[Mapping[str, str]], str]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        params = request.query_params
        text = params.get("filter")
        query = listings.ListQuery(
            parse_filter(text) if text is not None else None,
            params.get("q", ""),
            params.get("sort", ""),
            params.get("cursor", ""),
            int(params.get("limit", entries.DEFAULT_LIMIT)),
            BOOLEANS[params.get("count", "false")],
        )
        return await entries.page_reply(
            request, code_of(request.path_params), query, params.get("fields", "")
        )

    return endpoint


# What a request must be to be answered here (what FastAPI would accept, narrowed)


def _entry_ok(scope: Scope, path: Mapping[str, str], query: QueryParams) -> bool:
    return _code_ok(path) and _number(path["entry_id"], MAX_ID) and not query


def _page_ok(scope: Scope, path: Mapping[str, str], query: QueryParams) -> bool:
    if not _code_ok(path) or len(query.keys()) != len(query.multi_items()):
        return False  # a parameter given twice: the FastAPI route refuses it
    if first_unreadable(scope.get("query_string", b"")) is not None:
        return False  # text that is not UTF-8 (Starlette made it U+FFFD), or a NUL
    for name, value in query.items():
        longest = LIST_TEXT_LENGTH.get(name)
        if longest is not None:
            if len(value) > longest:
                return False
        elif name == "limit":
            if not _number(value, listings.MAX_LIMIT):
                return False
        elif name == "count":
            if value not in BOOLEANS:
                return False
        elif name != "filter":
            return False
    return True


def _code_ok(path: Mapping[str, str]) -> bool:
    return len(path.get("code", "")) <= 255


def _number(text: str, largest: int) -> bool:
    return len(text) <= 10 and text.isascii() and text.isdigit() and 1 <= int(text) <= largest


def _has_bearer(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return scheme.lower() == b"bearer" and bool(token.strip())
    return False
