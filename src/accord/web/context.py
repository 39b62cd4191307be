"""What every page shares: the database, the templates, the session, one transaction.

A handler names the work to do in the transaction as a function of the transaction and
the signed-in session, returning a `Page` (or a redirect). The session is checked inside
that same transaction, so a page costs one transaction and acts with the rights read in
it; a form's CSRF token is checked there too, before the work, so a refused form changes
nothing. A posted form's body is read only once its session is known to be signed in.
"""

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from anyio import CapacityLimiter, to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from accord.domain.errors import AccordError, Family
from accord.domain.rights import GlobalRight
from accord.services.sessions import SessionInvalid, WebSession, authenticate_session
from accord.services.throttle import FailureThrottle
from accord.services.transactions import Database, Transaction, run
from accord.web import texts
from accord.web.forms import first, read_form

SESSION_COOKIE = "accord_session"
SIGN_IN_COOKIE = "accord_sign_in"
"""The sign-in form's own CSRF token (double-submitted: cookie and form field)."""
TEMPLATES = Path(__file__).parent / "templates"
STATIC_PATH = "/static"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
PASSWORD_CHECKS_AT_ONCE = 2
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class CsrfRefused(AccordError):
    """A form whose CSRF token is not its session's (forged, or from an old page)."""

    code = "csrf_refused"
    family = Family.FORBIDDEN

    def __init__(self) -> None:
        super().__init__(texts.CSRF_REFUSED)


@dataclass(frozen=True, slots=True)
class Page:
    """A page to render: a template, its values and the HTTP status."""

    template: str
    values: Mapping[str, Any]
    status: int = 200


class Refused(Exception):
    """Raised by a page's work to roll its transaction back and show `page` instead (a
    form with errors: nothing it did, such as an entry a link created, is kept)."""

    def __init__(self, page: Page) -> None:
        super().__init__(page.template)
        self.page = page


@dataclass
class WebContext:
    database: Database
    throttle: FailureThrottle
    environment: jinja2.Environment = field(init=False)
    limiters: dict[bool, CapacityLimiter] = field(default_factory=dict)
    password_checks: CapacityLimiter | None = None

    def __post_init__(self) -> None:
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.environment.globals["t"] = texts
        self.environment.globals["static"] = lambda name: f"{STATIC_PATH}/{name}"

    def threads(self, *, write: bool) -> CapacityLimiter:
        if write not in self.limiters:
            embedded_read = self.database.embedded and not write
            size = 1 if embedded_read else self.database.connections
            self.limiters[write] = CapacityLimiter(size)
        return self.limiters[write]

    def hashing(self) -> CapacityLimiter:
        """The password checks that may run at once (each takes 64 MiB for a tenth of a
        second: a flood of sign-ins waits here rather than taking the memory)."""
        if self.password_checks is None:
            self.password_checks = CapacityLimiter(PASSWORD_CHECKS_AT_ONCE)
        return self.password_checks

    def render(self, page: Page, session: WebSession | None = None) -> Response:
        values = {"session": session, **page.values}
        html = self.environment.get_template(page.template).render(values)
        return HTMLResponse(html, status_code=page.status, headers=PAGE_HEADERS)


def context(request: Request) -> WebContext:
    found: WebContext = request.app.state.web
    return found


Work = Callable[[Transaction, WebSession], Page | Response]
Pairs = list[tuple[str, str]]
FormWork = Callable[[Transaction, WebSession, Pairs], Page | Response]


async def page(
    request: Request,
    work: Work,
    *,
    write: bool = False,
    form: Mapping[str, str] | None = None,
) -> Response:
    """`work` in one transaction as the signed-in user; a form's CSRF token checked first.

    Not signed in: a redirect to the sign-in page (back here afterwards, for a GET).
    """
    web = context(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return sign_in_redirect(request)
    sessions: list[WebSession] = []

    def in_transaction(tx: Transaction) -> Response:
        session = authenticate_session(tx, token)
        sessions.append(session)
        session.actor.rights.require(GlobalRight.MAIN_MENU)
        if form is not None and not secrets.compare_digest(
            form.get("csrf", "").encode(), session.csrf_token.encode()
        ):
            raise CsrfRefused
        result = work(tx, session)
        return result if isinstance(result, Response) else web.render(result, session)

    try:
        return await to_thread.run_sync(
            lambda: run(web.database, in_transaction, write=write),
            limiter=web.threads(write=write),
        )
    except SessionInvalid:
        return sign_in_redirect(request)
    except Refused as refused:
        return web.render(refused.page, sessions[-1])
    except AccordError as error:
        return error_page(web, error, sessions[-1] if sessions else None)


async def form_page(request: Request, work: FormWork, *, limit: int) -> Response:
    """`work` on a posted form of at most `limit` bytes, in one write transaction.

    The session is checked before the body is read (a stranger's request is not parsed),
    and again, with the form's CSRF token, in the write transaction itself.
    """
    web = context(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        if not token:
            raise SessionInvalid
        await to_thread.run_sync(
            lambda: run(web.database, lambda tx: authenticate_session(tx, token), write=False),
            limiter=web.threads(write=False),
        )
    except SessionInvalid:
        return sign_in_redirect(request)
    try:
        pairs = await read_form(request, limit)
    except AccordError as error:
        return error_page(web, error, None)
    return await page(request, lambda tx, s: work(tx, s, pairs), write=True, form=first(pairs))


def error_page(web: WebContext, error: AccordError, session: WebSession | None) -> Response:
    # A page sends no If-Match: a stale edit is someone else having saved first.
    status = 409 if error.family is Family.STALE else error.family.status
    return web.render(Page("error.html", {"message": error.message}, status), session)


def sign_in_redirect(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = (
        "/sign-in" if request.method != "GET" or here == "/" else f"/sign-in?next={quote(here)}"
    )
    if request.headers.get("hx-request"):
        # htmx follows a redirect inside the page; a whole new page is what is wanted.
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def redirect(url: str) -> Response:
    """After a successful form: the page to show next (POST, then GET)."""
    return RedirectResponse(url, status_code=303)


def local_path(target: str) -> str:
    """`target` if it is a path on this server, else the home page (no open redirect)."""
    ok = target.startswith("/") and not target.startswith(("//", "/\\")) and len(target) < 2000
    return target if ok and all(32 < ord(c) < 127 for c in target) else "/"
