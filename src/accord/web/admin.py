"""Administration pages: users (add, disable or enable, set a password), groups and their
members, and the legacy API key. Administrators only: the services refuse anyone else
(a 403 page), and the header offers the pages to administrators only.

Every change is a plain form posted back and answered with a redirect (POST, then GET);
a refused one shows the page again with the services' message next to its field and
changes nothing. The API key is the exception: it is shown once, in the reply to the
form that made it, and never again (neither in a URL nor in a later page).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from accord.domain.errors import AccordError, PermissionDenied
from accord.services import auth, sessions, users
from accord.services.sessions import WebSession
from accord.services.transactions import Transaction
from accord.web import texts
from accord.web.context import Page, Pairs, Refused, form_page, page, redirect
from accord.web.forms import first

ADMIN_FORM_BYTES = 16384
"""An administration form is a few short fields (a password is at most 1024 characters)."""
NO_STORE = {"Cache-Control": "no-store"}
"""A page showing a secret once is kept by no cache (nor the browser's back button)."""


@dataclass(frozen=True, slots=True)
class Shown:
    """What an administration page shows beside its data: the messages of a refused form
    by field, what was typed in it, a message for the whole page, a confirmation."""

    errors: Mapping[str, str] = field(default_factory=dict)
    typed: Mapping[str, str] = field(default_factory=dict)
    message: str = ""
    notice: str = ""

    def values(self) -> dict[str, Any]:
        return {
            "errors": self.errors,
            "typed": self.typed,
            "message": self.message,
            "notice": self.notice,
        }


Build = Callable[[Transaction, WebSession, Shown], Page]
"""A page of forms made from the transaction, the session and what it shows."""


async def shown_page(request: Request, build: Build) -> Response:
    """GET a page of forms (administration, API tokens), with the confirmation its
    redirect asked for (a known text by name: nothing from the URL is shown as such)."""
    notice = texts.ADMIN_NOTICES.get(request.query_params.get("done", ""), "")
    return await page(request, lambda tx, s: build(tx, s, Shown(notice=notice)))


def refused(
    build: Build,
    tx: Transaction,
    session: WebSession,
    error: AccordError,
    *,
    field: str = "",
    typed: Mapping[str, str] | None = None,
    message: str = "",
) -> Exception:
    """The page again with `error` next to `field` (its own field, if it names one; none:
    the message heads the page) and a 422; a refusal of the right itself as it is (403)."""
    if isinstance(error, PermissionDenied):
        return error
    where = error.field or field
    errors = {where: error.message} if where else {}
    shown = Shown(errors, typed or {}, message or ("" if where else error.message))
    built = build(tx, session, shown)
    return Refused(Page(built.template, built.values, 422))


# Users


def _users_page(tx: Transaction, session: WebSession, shown: Shown) -> Page:
    actor = session.actor
    listed = users.list_users(tx, actor=actor)
    names = {g.id: g.name for g in users.list_groups(tx, actor=actor)}
    groups_of: dict[str, list[str]] = {}
    for group_id, logins in users.all_group_members(tx, actor=actor).items():
        for login in logins:
            groups_of.setdefault(login, []).append(names[group_id])
    values = {"users": listed, "groups_of": groups_of, "me": actor.user_id}
    return Page("admin_users.html", {"section": "users", **values, **shown.values()})


async def users_page(request: Request) -> Response:
    return await shown_page(request, _users_page)


async def add_user(request: Request) -> Response:
    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Response:
        form = first(pairs)
        typed = {k: form.get(k, "") for k in ("login", "display_name", "email", "is_admin")}
        try:
            users.add_user(
                tx,
                typed["login"],
                display_name=typed["display_name"],
                email=typed["email"],
                is_admin=typed["is_admin"] == "on",
                actor=session.actor,
            )
        except AccordError as error:
            raise refused(
                _users_page,
                tx,
                session,
                error,
                field="login",
                typed=typed,
                message=texts.FIX_ERRORS,
            ) from error
        return redirect("/admin/users?done=user-added")

    return await form_page(request, work, limit=ADMIN_FORM_BYTES)


async def set_active(request: Request) -> Response:
    """Disable or enable a user (`update_user` refuses an administrator's own account)."""

    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Response:
        form = first(pairs)
        active = form.get("active", "") == "true"
        try:
            users.update_user(tx, form.get("login", ""), is_active=active, actor=session.actor)
        except AccordError as error:
            raise refused(_users_page, tx, session, error) from error
        return redirect("/admin/users?done=" + ("enabled" if active else "disabled"))

    return await form_page(request, work, limit=ADMIN_FORM_BYTES)


def _password_page(login: str) -> Build:
    def build(tx: Transaction, session: WebSession, shown: Shown) -> Page:
        user = users.read_user(tx, login, actor=session.actor)
        return Page("admin_password.html", {"section": "users", "user": user, **shown.values()})

    return build


async def password_form(request: Request) -> Response:
    return await shown_page(request, _password_page(request.query_params.get("login", "")))


async def set_password(request: Request) -> Response:
    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Response:
        form = first(pairs)
        login, password = form.get("login", ""), form.get("password", "")
        build = _password_page(login)
        try:
            if password != form.get("confirm", ""):
                raise AccordError(texts.PASSWORDS_DIFFER).about("confirm")
            sessions.set_password(tx, login, password, actor=session.actor)
        except AccordError as error:
            if error.code == "user_not_found":
                raise
            raise refused(build, tx, session, error, field="password") from error
        return redirect("/admin/users?done=password")

    return await form_page(request, work, limit=ADMIN_FORM_BYTES)


# Groups and their members


def member_field(group: str) -> str:
    """The field of a group's own form to add a member (each group has one)."""
    return f"member:{group}"


def _groups_page(tx: Transaction, session: WebSession, shown: Shown) -> Page:
    actor = session.actor
    members = users.all_group_members(tx, actor=actor)
    groups = [(g, members.get(g.id, [])) for g in users.list_groups(tx, actor=actor)]
    logins = [u.login for u in users.list_users(tx, actor=actor)]
    values = {"groups": groups, "logins": logins, "member_field": member_field}
    return Page("admin_groups.html", {"section": "groups", **values, **shown.values()})


async def groups_page(request: Request) -> Response:
    return await shown_page(request, _groups_page)


async def add_group(request: Request) -> Response:
    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Response:
        name = first(pairs).get("name", "")
        try:
            users.add_group(tx, name, actor=session.actor)
        except AccordError as error:
            typed = {"name": name}
            raise refused(_groups_page, tx, session, error, field="name", typed=typed) from error
        return redirect("/admin/groups?done=group-added")

    return await form_page(request, work, limit=ADMIN_FORM_BYTES)


async def add_member(request: Request) -> Response:
    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Response:
        form = first(pairs)
        group, login = form.get("group", ""), form.get("login", "")
        try:
            users.add_members(tx, group, [login], actor=session.actor)
        except AccordError as error:
            error.field = None  # the message goes next to that group's own field
            key = member_field(group)
            typed = {key: login}
            raise refused(_groups_page, tx, session, error, field=key, typed=typed) from error
        return redirect("/admin/groups?done=member-added")

    return await form_page(request, work, limit=ADMIN_FORM_BYTES)


async def remove_member(request: Request) -> Response:
    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Response:
        form = first(pairs)
        users.remove_member(tx, form.get("group", ""), form.get("login", ""), actor=session.actor)
        return redirect("/admin/groups?done=member-removed")

    return await form_page(request, work, limit=ADMIN_FORM_BYTES)


# The legacy API key


def _api_key_page(key: str = "") -> Build:
    def build(tx: Transaction, session: WebSession, shown: Shown) -> Page:
        state = auth.api_key_state(tx, actor=session.actor)
        values = {"section": "api-key", "state": state, "key": key, **shown.values()}
        return Page("admin_api_key.html", values)

    return build


async def api_key_page(request: Request) -> Response:
    return await shown_page(request, _api_key_page())


async def generate_api_key(request: Request) -> Response:
    def work(tx: Transaction, session: WebSession, _pairs: Pairs) -> Page:
        key = auth.replace_api_key(tx, actor=session.actor)
        return _api_key_page(key)(tx, session, Shown())

    response = await form_page(request, work, limit=ADMIN_FORM_BYTES)
    response.headers.update(NO_STORE)
    return response
