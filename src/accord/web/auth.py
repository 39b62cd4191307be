"""Signing in and out: the sign-in form, the session cookie, failed attempts throttled."""

import secrets

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from accord.domain.errors import AccordError
from accord.domain.text import fold
from accord.services import sessions
from accord.services.throttle import address_key
from accord.services.transactions import Transaction, run
from accord.web import texts
from accord.web.context import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    Page,
    Pairs,
    WebContext,
    context,
    form_page,
    local_path,
    redirect,
)
from accord.web.forms import first, read_form

SIGN_IN_FORM_BYTES = 8192
MAX_LOGIN_CHARS = 255


def _cookie(response: Response, request: Request, name: str, value: str, **options: object) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        **options,  # type: ignore[arg-type]
    )


def _form(
    web: WebContext,
    request: Request,
    *,
    login: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    target = local_path(request.query_params.get("next", "/"))
    values = {"csrf": token, "login": login, "error": error, "next": target}
    response = web.render(Page("sign_in.html", values, status))
    _cookie(response, request, SIGN_IN_COOKIE, token, path="/sign-in", max_age=86400)
    return response


async def sign_in_form(request: Request) -> Response:
    return _form(context(request), request)


async def sign_in(request: Request) -> Response:
    web = context(request)
    try:
        form = first(await read_form(request, SIGN_IN_FORM_BYTES))
    except AccordError as error:
        return _form(web, request, error=error.message, status=400)
    login, password = form.get("login", "")[:MAX_LOGIN_CHARS], form.get("password", "")
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not secrets.compare_digest(form.get("csrf", "").encode(), expected.encode()):
        return _form(web, request, login=login, error=texts.SIGN_IN_EXPIRED, status=403)
    keys = (address_key(request.client), "web-login:" + fold(login.strip()))
    wait = max(web.throttle.locked(key) for key in keys)
    if wait:
        message = texts.SIGN_IN_LOCKED.format(seconds=wait)
        return _form(web, request, login=login, error=message, status=429)

    def stored(tx: Transaction) -> sessions.Credential:
        return sessions.stored_credential(tx, login)

    def start(tx: Transaction) -> str:
        return sessions.start_session(tx, verified)[0]

    try:
        credential = await to_thread.run_sync(
            lambda: run(web.database, stored, write=False), limiter=web.threads(write=False)
        )
        verified = await to_thread.run_sync(
            lambda: sessions.check_password(credential, password), limiter=web.hashing()
        )
        token = await to_thread.run_sync(
            lambda: run(web.database, start, write=True), limiter=web.threads(write=True)
        )
    except sessions.SignInRefused:
        web.throttle.fail(*keys)
        return _form(web, request, login=login, error=texts.SIGN_IN_REFUSED, status=401)
    response = redirect(local_path(form.get("next", "/")))
    lifetime = int(sessions.SESSION_LIFETIME.total_seconds())
    _cookie(response, request, SESSION_COOKIE, token, path="/", max_age=lifetime)
    response.delete_cookie(SIGN_IN_COOKIE, path="/sign-in")
    return response


async def sign_out(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")

    def work(tx: Transaction, _session: sessions.WebSession, _pairs: Pairs) -> Response:
        sessions.sign_out(tx, token)
        response = redirect("/sign-in")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return await form_page(request, work, limit=SIGN_IN_FORM_BYTES)
