"""The rights matrix, as CRM for Jira's access page: a row per group and per user holding
a grant, a column per global right and per directory and action; each cell a button that
grants or revokes that one right (the button names the right, sent with its row's form:
one form per row keeps the page small; each change is answered with a redirect)."""

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from accord.domain.errors import AccordError
from accord.domain.rights import Action, GlobalRight, directory_right_title
from accord.domain.schema import Schema
from accord.services import users
from accord.services.sessions import WebSession
from accord.services.transactions import Transaction
from accord.web.admin import ADMIN_FORM_BYTES, Shown, refused, shown_page
from accord.web.context import Page, Pairs, form_page, redirect
from accord.web.forms import first

GROUP, USER = "group", "user"


@dataclass(frozen=True, slots=True)
class Column:
    """One right: what a grant names (`parse_grant`'s form) and what people call it."""

    right: str
    title: str
    key: tuple[str, int | None]
    """The right as a grant row holds it: its name and its directory's id (None: global)."""


@dataclass(frozen=True, slots=True)
class Row:
    kind: str
    """GROUP or USER."""
    name: str
    held: frozenset[tuple[str, int | None]]

    @property
    def holder(self) -> str:
        """The row's holder as the form sends it: "group:NAME" or "user:LOGIN"."""
        return f"{self.kind}:{self.name}"


def columns(schema: Schema) -> tuple[list[Column], list[tuple[str, list[Column]]]]:
    """The global rights' columns, and each directory's name with its actions' columns."""
    global_ = [Column(r.value, r.display_name, (r.value, None)) for r in GlobalRight]
    by_directory = [
        (
            d.name,
            [
                Column(f"{d.code}.{a.value}", directory_right_title(a, d), (a.value, d.id))
                for a in Action
            ],
        )
        for d in schema.directories
    ]
    return global_, by_directory


def rows(tx: Transaction, session: WebSession) -> list[Row]:
    """Every group (holding grants or not), then every user holding a grant directly."""
    actor = session.actor
    held: dict[tuple[str, str], set[tuple[str, int | None]]] = {}
    for grant in users.list_grants(tx, actor=actor):
        holder = (GROUP, grant.group) if grant.group is not None else (USER, grant.user or "")
        held.setdefault(holder, set()).add((grant.right, grant.directory_id))
    groups = [
        Row(GROUP, g.name, frozenset(held.get((GROUP, g.name), ())))
        for g in users.list_groups(tx, actor=actor)
    ]
    people = sorted(name for kind, name in held if kind == USER)
    return groups + [Row(USER, login, frozenset(held[(USER, login)])) for login in people]


def _rights_page(tx: Transaction, session: WebSession, shown: Shown) -> Page:
    global_, by_directory = columns(tx.schema)
    values = {
        "rows": rows(tx, session),
        "global_columns": global_,
        "directory_columns": by_directory,
        "logins": [u.login for u in users.list_users(tx, actor=session.actor)],
        "group_kind": GROUP,
    }
    return Page("admin_rights.html", {"section": "rights", **values, **shown.values()})


async def rights_page(request: Request) -> Response:
    return await shown_page(request, _rights_page)


def _holder(text: str) -> dict[str, str]:
    """The `grant`/`revoke` keyword naming the holder a form sends ("group:X", "user:Y")."""
    kind, _, name = text.partition(":")
    return {kind: name} if kind in (GROUP, USER) and name else {}


async def change(request: Request) -> Response:
    """Grant or revoke one right of one holder: a cell of the matrix (its button names the
    right as `grant` or `revoke`), or the form that grants a right to a user by login."""

    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Response:
        form = first(pairs)
        revoking = "revoke" in form
        right = form.get("revoke" if revoking else "grant", "")
        holder = _holder(form.get("holder", "")) or {USER: form.get("login", "")}
        act = users.revoke if revoking else users.grant
        try:
            act(tx, right, actor=session.actor, **holder)
        except AccordError as error:
            error.field = None  # one message, beside the form to grant a right
            typed = {"login": form.get("login", ""), "grant": right}
            raise refused(_rights_page, tx, session, error, field="grant", typed=typed) from error
        return redirect(f"/admin/rights?done={'revoked' if revoking else 'granted'}")

    return await form_page(request, work, limit=ADMIN_FORM_BYTES)
