"""The signed-in user's personal API tokens for the REST API: list, create (the token is
shown once, in the reply to the form that made it) and revoke. Every user has this page,
administrators or not; a token never allows more than its user may do."""

from starlette.requests import Request
from starlette.responses import Response

from accord.domain.errors import AccordError
from accord.services import tokens
from accord.services.sessions import WebSession
from accord.services.transactions import Transaction, now
from accord.web import texts
from accord.web.admin import ADMIN_FORM_BYTES, NO_STORE, Build, Shown, refused, shown_page
from accord.web.context import Page, Pairs, form_page, redirect
from accord.web.forms import first


def _login(session: WebSession) -> str:
    user = session.actor.user
    assert user is not None  # a session is always a user's
    return user.login


def _tokens_page(token: str = "") -> Build:
    """The page, with `token` shown (once: only the reply to the form that made it)."""

    def build(tx: Transaction, session: WebSession, shown: Shown) -> Page:
        listed = tokens.list_tokens(tx, _login(session), actor=session.actor)
        moment = now()
        values = {
            "tokens": [(row, tokens.token_state(row, moment)) for row in reversed(listed)],
            "directory": tx.schema.directory,
            "token": token,
            "max_days": tokens.MAX_DAYS,
        }
        return Page("tokens.html", {**values, **shown.values()})

    return build


async def tokens_page(request: Request) -> Response:
    return await shown_page(request, _tokens_page())


def _days(text: str) -> int | None:
    """The days a token lasts (None: no expiry); a number out of range is the service's
    to refuse, anything else is not a number of days."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 6):
        raise AccordError(texts.TOKEN_DAYS.format(days=tokens.MAX_DAYS)).about("expires_days")
    return int(text)


async def create(request: Request) -> Response:
    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Page:
        form = first(pairs)
        typed = {k: form.get(k, "") for k in ("name", "read_only", "expires_days")}
        try:
            text, _row = tokens.create_token(
                tx,
                _login(session),
                name=typed["name"],
                read_only=typed["read_only"] == "on",
                expires_days=_days(typed["expires_days"]),
                actor=session.actor,
            )
        except AccordError as error:
            raise refused(_tokens_page(), tx, session, error, field="name", typed=typed) from error
        return _tokens_page(text)(tx, session, Shown())

    response = await form_page(request, work, limit=ADMIN_FORM_BYTES)
    response.headers.update(NO_STORE)
    return response


async def revoke(request: Request) -> Response:
    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Response:
        number = first(pairs).get("id", "")
        token_id = int(number) if number.isascii() and number.isdigit() and len(number) < 10 else 0
        tokens.revoke_token(tx, token_id, actor=session.actor)
        return redirect("/tokens?done=token-revoked")

    return await form_page(request, work, limit=ADMIN_FORM_BYTES)
