"""Search everywhere: the page `/search?q=` (the header's box sent as a form), its
dropdown fragment as one types (`/search/suggest`), and the link pickers' options
(`/d/{code}/pick`): all the search service's, with the signed-in user's rights."""

from starlette.requests import Request
from starlette.responses import Response

from accord.domain.errors import InvalidQuery
from accord.services import search
from accord.services.sessions import WebSession
from accord.services.transactions import Transaction
from accord.web.context import Page, page
from accord.web.values import entry_url

PAGE_LIMIT = 10
"""Entries a directory shows on the search page (its list, with `q`, has the others)."""
SUGGEST_LIMIT = 5
"""Entries a directory shows in the dropdown."""
PICK_LIMIT = 8
"""Entries a link picker offers."""
MAX_Q_CHARS = 1000
"""The longest `q` read at all (the service takes at most `search.MAX_TEXT` once trimmed;
this bounds the work before it)."""


def _q(request: Request) -> str:
    return request.query_params.get("q", "")[:MAX_Q_CHARS]


def _found(
    tx: Transaction,
    session: WebSession,
    q: str,
    limit: int,
    names: list[str] | None = None,
) -> dict[str, object]:
    """The values a results template takes: nothing asked for an empty `q`, the
    service's message for one it refuses."""
    values: dict[str, object] = {"q": q.strip(), "results": None, "error": "", "url": entry_url}
    if not q.strip():
        return values
    try:
        found = search.search_directories(tx, q, limit=limit, names=names, actor=session.actor)
    except InvalidQuery as error:
        values["error"] = error.message
        return values
    values["results"] = found
    return values


async def search_page(request: Request) -> Response:
    q = _q(request)

    def work(tx: Transaction, session: WebSession) -> Page:
        values = {**_found(tx, session, q, PAGE_LIMIT), "search_q": q}
        return Page("search.html", values, 400 if values["error"] else 200)

    return await page(request, work)


async def suggest(request: Request) -> Response:
    """The dropdown under the header's box: a fragment, refused input's message and all
    (a 200, so that htmx shows it in place)."""
    q = _q(request)

    def work(tx: Transaction, session: WebSession) -> Page:
        return Page("search_suggest.html", _found(tx, session, q, SUGGEST_LIMIT))

    return await page(request, work)


async def pick(request: Request) -> Response:
    """A link picker's options: entries of the directory in the path that hold `q` (none
    if the user may not view it, as the search service answers)."""
    code, q = request.path_params["code"], _q(request)

    def work(tx: Transaction, session: WebSession) -> Page:
        directory = tx.schema.find_directory(code)
        values = _found(tx, session, q, PICK_LIMIT, [directory.code])
        return Page("pick_options.html", {**values, "directory": directory})

    return await page(request, work)
