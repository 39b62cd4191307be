"""The administration pages (users, groups, the rights matrix, the legacy API key) and
every user's own API tokens: each action done and seen, refused input shown and nothing
changed, non-administrators refused."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from markupsafe import escape

from accord.services import tokens, users
from accord.services.transactions import Database, run
from tests.functional.api_support import CLI, Api
from tests.functional.web.web_support import PASSWORD, Browser, add_web_user, text_of
from tests.support import InProcessServer, Legacy


@pytest.fixture
def admin(server: InProcessServer) -> Iterator[Browser]:
    browser = Browser(server).signed_in()
    yield browser
    browser.close()


@pytest.fixture
def clerk(db: Database, server: InProcessServer) -> Iterator[Browser]:
    """A signed-in user who is not an administrator (may see companies)."""
    add_web_user(db, "clerk", ["main-menu", "CLIENTS.view"])
    browser = Browser(server).signed_in("clerk", PASSWORD)
    yield browser
    browser.close()


def state(db: Database) -> Any:
    """Users, groups with their members, grants and the API key, as the services see them."""

    def read(tx: Any) -> Any:
        people = [
            (u.login, u.email, u.is_active, u.is_admin) for u in users.list_users(tx, actor=CLI)
        ]
        members = users.all_group_members(tx, actor=CLI)
        groups = [(g.name, members.get(g.id, [])) for g in users.list_groups(tx, actor=CLI)]
        grants = [
            (g.right, g.directory_id, g.user, g.group) for g in users.list_grants(tx, actor=CLI)
        ]
        return people, groups, grants, tx.instance.api_key_hash

    return run(db, read, write=False)


def form(browser: Browser, path: str, **data: str) -> Any:
    """Post a form of an administration page, with the session's CSRF token."""
    return browser.post(path, {"csrf": browser.csrf(), **data})


def row_of(page: str, login: str) -> str:
    """The visible text of a user's row on the users page."""
    found = re.search(rf"<tr>\s*<th scope=\"row\">{re.escape(login)}\b.*?</tr>", page, re.S)
    assert found is not None, login
    return text_of(found[0])


def field_error(page: str) -> str:
    found = re.search(r'<p class="field-error" id="[^"]+">(.*?)</p>', page, re.S)
    assert found is not None, text_of(page)
    return text_of(found[1])


# Users


def test_an_admin_adds_a_user_and_sees_them_listed(admin: Browser, db: Database) -> None:
    data = {"login": "zoe", "display_name": "Zoë Ray", "email": "zoe@accord.example"}
    reply = form(admin, "/admin/users", **data)
    assert (reply.status_code, reply.headers["location"]) == (303, "/admin/users?done=user-added")
    page = admin.get(reply.headers["location"]).text
    assert "The user was added." in page
    assert row_of(page, "zoe").startswith("zoe Zoë Ray zoe@accord.example Yes")
    assert row_of(page, "manager").startswith("manager manager manager@accord.example Yes Sales")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"login": "  "}, "A login is 1 to 255 printable characters"),
        ({"login": "Manager"}, "User 'Manager' already exists"),
        ({"login": "bob", "email": "bob-at-example"}, "An e-mail address is name@domain"),
    ],
)
def test_a_refused_user_shows_why_and_changes_nothing(
    admin: Browser, db: Database, data: dict[str, str], message: str
) -> None:
    before = state(db)
    reply = form(admin, "/admin/users", **data)
    assert reply.status_code == 422
    assert field_error(reply.text).startswith(message)
    assert f'value="{data["login"]}"' in reply.text  # what was typed is kept
    assert state(db) == before


def test_an_admin_disables_and_enables_a_user(
    admin: Browser, db: Database, server: InProcessServer
) -> None:
    add_web_user(db, "temp", ["main-menu"])
    temp = Browser(server).signed_in("temp", PASSWORD)
    reply = form(admin, "/admin/users/active", login="temp", active="false")
    assert reply.status_code == 303
    assert " No " in row_of(admin.get("/admin/users").text, "temp") + " "
    assert temp.get("/").status_code == 303  # signed out at once
    assert Browser(server).sign_in("temp", PASSWORD).status_code == 401
    form(admin, "/admin/users/active", login="temp", active="true")
    assert " Yes " in row_of(admin.get("/admin/users").text, "temp") + " "
    assert Browser(server).sign_in("temp", PASSWORD).status_code == 303


def test_an_admin_cannot_disable_themselves(admin: Browser, db: Database) -> None:
    page = admin.get("/admin/users").text
    assert 'Disable<span class="visually-hidden"> admin</span>' not in page
    assert 'Disable<span class="visually-hidden"> viewer</span>' in page
    before = state(db)
    reply = form(admin, "/admin/users/active", login="admin", active="false")
    assert reply.status_code == 422
    assert "cannot disable their own user" in text_of(reply.text)
    assert state(db) == before


def test_an_admin_sets_a_password_and_the_user_signs_in_with_it(
    admin: Browser, server: InProcessServer
) -> None:
    page = admin.get("/admin/users/password?login=viewer")
    assert "Password of viewer" in text_of(page.text)
    short = form(admin, "/admin/users/password", login="viewer", password="short", confirm="short")
    assert short.status_code == 422
    assert field_error(short.text).startswith("A password is 8 to 1024 characters")
    differ = form(
        admin, "/admin/users/password", login="viewer", password="a long one", confirm="another"
    )
    assert (differ.status_code, field_error(differ.text)) == (422, "The two passwords differ.")
    assert Browser(server).sign_in("viewer", "a long one").status_code == 401
    done = form(
        admin, "/admin/users/password", login="viewer", password="a long one", confirm="a long one"
    )
    assert (done.status_code, done.headers["location"]) == (303, "/admin/users?done=password")
    assert Browser(server).sign_in("viewer", "a long one").status_code == 303


# Groups


def test_an_admin_adds_a_group_and_its_members(admin: Browser, db: Database) -> None:
    assert form(admin, "/admin/groups", name="Support").status_code == 303
    assert form(admin, "/admin/groups/members", group="Support", login="viewer").status_code == 303
    assert form(admin, "/admin/groups/members", group="Sales", login="viewer").status_code == 303
    page = text_of(admin.get("/admin/groups?done=member-added").text)
    assert "The member was added." in page
    assert "Sales manager Remove manager from Sales viewer Remove viewer from Sales" in page
    assert "Support viewer Remove viewer from Support" in page
    reply = form(admin, "/admin/groups/members/remove", group="Sales", login="viewer")
    assert reply.status_code == 303
    assert "Sales manager Remove manager from Sales Login" in text_of(
        admin.get("/admin/groups").text
    )
    assert ("Sales", ["manager"]) in state(db)[1]


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("/admin/groups", {"name": "sales"}, "Group 'sales' already exists"),
        ("/admin/groups", {"name": ""}, "A group name is 1 to 255 printable characters"),
        ("/admin/groups/members", {"group": "Sales", "login": "nobody"}, "User not found: nobody"),
    ],
)
def test_a_refused_group_change_shows_why_and_changes_nothing(
    admin: Browser, db: Database, path: str, data: dict[str, str], message: str
) -> None:
    before = state(db)
    reply = form(admin, path, **data)
    assert (reply.status_code, field_error(reply.text)) == (422, message)
    assert state(db) == before


# The rights matrix


def cell(page: str, holder: str, right: str) -> bool:
    """Whether the matrix shows `right` as held by `holder` ("group:X" or "user:Y")."""
    shown = re.escape(str(escape(holder)))  # as the page writes it
    holder_field = f'<input type="hidden" name="holder" value="{shown}">'
    form = re.search(rf'<form id="([^"]+)"[^>]*>\s*<input[^>]*>\s*{holder_field}', page)
    assert form is not None, holder
    button = rf'<button type="submit" form="{form[1]}" name="(?:grant|revoke)"'
    found = re.search(rf'{button} value="{re.escape(right)}" aria-pressed="(\w+)"', page)
    assert found is not None, (holder, right)
    return found[1] == "true"


def test_the_matrix_shows_grants_and_each_cell_grants_or_revokes(
    admin: Browser, db: Database
) -> None:
    page = admin.get("/admin/rights").text
    assert cell(page, "group:Sales", "CLIENTS.edit")
    assert not cell(page, "group:Sales", "PRODUCTS.edit")
    assert cell(page, "user:viewer", "main-menu")
    assert "user:manager" not in page  # a user holding no grant of their own has no row
    grant = {"holder": "group:Sales", "grant": "PRODUCTS.edit"}
    assert form(admin, "/admin/rights", **grant).status_code == 303
    assert cell(admin.get("/admin/rights").text, "group:Sales", "PRODUCTS.edit")
    revoke = {"holder": "group:Sales", "revoke": "PRODUCTS.edit"}
    assert form(admin, "/admin/rights", **revoke).status_code == 303
    assert not cell(admin.get("/admin/rights").text, "group:Sales", "PRODUCTS.edit")
    reply = form(admin, "/admin/rights", login="manager", grant="CONTACTS.remove")
    assert reply.status_code == 303
    page = admin.get("/admin/rights?done=granted").text
    assert "The right was granted." in page
    assert cell(page, "user:manager", "CONTACTS.remove")
    assert not cell(page, "user:manager", "CONTACTS.view")


def test_a_granted_right_reaches_the_group_s_members(
    admin: Browser, db: Database, server: InProcessServer
) -> None:
    add_web_user(db, "newbie", ["main-menu"])
    run(db, lambda tx: users.add_members(tx, "Sales", ["newbie"], actor=CLI), write=True)
    run(db, lambda tx: users.revoke(tx, "products.view", group="Sales", actor=CLI), write=True)
    newbie = Browser(server).signed_in("newbie", PASSWORD)
    assert newbie.get("/d/PRODUCTS").status_code == 403
    form(admin, "/admin/rights", holder="group:Sales", grant="PRODUCTS.view")
    assert newbie.get("/d/PRODUCTS").status_code == 200


def test_a_refused_grant_shows_why_and_changes_nothing(admin: Browser, db: Database) -> None:
    before = state(db)
    reply = form(admin, "/admin/rights", login="nobody", grant="CLIENTS.view")
    assert (reply.status_code, field_error(reply.text)) == (422, "User not found: nobody")
    reply = form(admin, "/admin/rights", holder="group:Sales", grant="CLIENTS.fly")
    assert (reply.status_code, field_error(reply.text)) == (422, "Unknown right: CLIENTS.fly")
    assert state(db) == before


# The legacy API key


def test_a_generated_api_key_is_shown_once_and_works_with_the_legacy_api(
    admin: Browser, server: InProcessServer
) -> None:
    page = text_of(admin.get("/admin/api-key").text)
    assert "An API key is set (set on " in page  # the demo's
    assert "accord-demo-key" not in page
    reply = form(admin, "/admin/api-key")
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    found = re.search(r'<code class="token" id="new-key">([^<]+)</code>', reply.text)
    assert found is not None
    key = found[1]
    again = admin.get("/admin/api-key").text
    assert key not in again
    assert re.search(
        r"An API key is set \(set on \d{4}-\d\d-\d\d \d\d:\d\d UTC ?\)", text_of(again)
    )
    legacy, old = Legacy(server.client(), key=key), Legacy(server.client())
    try:
        assert legacy("getcompanybyname", companyName="Teamlead")["id"] == "2"
        assert old("getcompanybyname", companyName="Teamlead") == {
            "success": False,
            "details": "Wrong API key",
        }
    finally:
        legacy.close()
        old.close()


# Personal API tokens


def created_token(browser: Browser, **data: str) -> str:
    reply = form(browser, "/tokens", **data)
    assert reply.status_code == 200, text_of(reply.text)
    assert reply.headers["cache-control"] == "no-store"
    found = re.search(r'<code class="token" id="new-token">([^<]+)</code>', reply.text)
    assert found is not None
    return found[1]


def test_any_user_creates_a_token_that_works_until_revoked(
    clerk: Browser, server: InProcessServer
) -> None:
    text = created_token(clerk, name="my script", read_only="on", expires_days="30")
    page = clerk.get("/tokens").text
    assert text not in page
    assert "my script read-only" in text_of(page)
    api = Api(server.client(), text)
    try:
        assert api.ok("GET", "/me")["login"] == "clerk"
        assert api.get("/directories/CLIENTS/entries").status_code == 200
        token_id = re.search(r'name="id" value="(\d+)"', page)
        assert token_id is not None
        reply = form(clerk, "/tokens/revoke", id=token_id[1])
        assert (reply.status_code, reply.headers["location"]) == (303, "/tokens?done=token-revoked")
        assert "my script read-only" in text_of(clerk.get("/tokens").text)
        assert "revoked" in text_of(clerk.get("/tokens").text)
        assert api.get("/me").status_code == 401
    finally:
        api.close()


def test_a_user_cannot_revoke_another_s_token(clerk: Browser, db: Database) -> None:
    def issue(tx: Any) -> int:
        return tokens.create_token(tx, "viewer", actor=CLI)[1].id

    token_id = run(db, issue, write=True)
    reply = form(clerk, "/tokens/revoke", id=str(token_id))
    assert reply.status_code == 422
    assert f"No active token with id {token_id}" in text_of(reply.text)
    listed = run(db, lambda tx: tokens.list_tokens(tx, "viewer", actor=CLI), write=False)
    assert listed[0].revoked_at is None


@pytest.mark.parametrize(
    ("days", "message"),
    [("0", "A token expires in 1 to 3650 days"), ("soon", "A number of days from 1 to 3650")],
)
def test_a_refused_token_shows_why_and_makes_none(
    clerk: Browser, db: Database, days: str, message: str
) -> None:
    reply = form(clerk, "/tokens", name="x", expires_days=days)
    assert reply.status_code == 422
    assert field_error(reply.text).startswith(message)
    assert run(db, lambda tx: tokens.list_tokens(tx, "clerk", actor=CLI), write=False) == []


# Who may


ADMIN_CHANGES = [
    ("/admin/users", {"login": "mallory"}),
    ("/admin/users/active", {"login": "manager", "active": "false"}),
    (
        "/admin/users/password",
        {"login": "admin", "password": "taken over", "confirm": "taken over"},
    ),
    ("/admin/groups", {"name": "Mallory's"}),
    ("/admin/groups/members", {"group": "Sales", "login": "clerk"}),
    ("/admin/groups/members/remove", {"group": "Sales", "login": "manager"}),
    ("/admin/rights", {"holder": "user:clerk", "grant": "CLIENTS.edit"}),
    ("/admin/rights", {"holder": "group:Sales", "revoke": "CLIENTS.view"}),
    ("/admin/api-key", {}),
]


def test_a_non_admin_is_offered_no_administration_and_refused_it(
    clerk: Browser, db: Database
) -> None:
    home = clerk.get("/").text
    assert 'href="/admin/users"' not in home
    assert 'href="/tokens"' in home
    for path in ("/admin", "/admin/users", "/admin/groups", "/admin/rights", "/admin/api-key"):
        reply = clerk.get(path)
        assert reply.status_code == 403, path
        assert "Permission denied: Administrator" in text_of(reply.text)
    assert clerk.get("/admin/users/password?login=admin").status_code == 403
    before = state(db)
    for path, data in ADMIN_CHANGES:
        assert form(clerk, path, **data).status_code == 403, path
    assert state(db) == before


def test_an_admin_is_offered_administration(admin: Browser) -> None:
    assert 'href="/admin/users"' in admin.get("/").text


def test_an_administration_form_without_its_csrf_token_changes_nothing(
    admin: Browser, db: Database
) -> None:
    before = state(db)
    for path, data in ADMIN_CHANGES:
        assert admin.post(path, {**data, "csrf": "forged"}).status_code == 403, path
    assert admin.post("/tokens", {"name": "x", "csrf": "forged"}).status_code == 403
    assert state(db) == before


def test_hostile_names_show_as_text_on_every_administration_page(
    admin: Browser, db: Database
) -> None:
    hostile = "<img src=x onerror=alert('x')> שלום Аdmin \"q\""  # a group name holds no "/"
    escaped = "&lt;img src=x onerror=alert(&#39;x&#39;)&gt;"
    assert form(admin, "/admin/groups", name=hostile).status_code == 303
    reply = form(admin, "/admin/rights", holder=f"group:{hostile}", grant="CLIENTS.view")
    assert reply.status_code == 303
    data = {"login": "o'brien", "display_name": hostile, "email": "o'brien@example.com"}
    assert form(admin, "/admin/users", **data).status_code == 303
    created_token(admin, name=hostile)
    for path in ("/admin/users", "/admin/groups", "/admin/rights", "/tokens"):
        page = admin.get(path).text
        assert "<img src=x" not in page, path
        assert escaped in page, path
    assert cell(admin.get("/admin/rights").text, f"group:{hostile}", "CLIENTS.view")
