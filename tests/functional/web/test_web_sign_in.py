"""Signing in and out of the web UI: passwords, the session cookie, CSRF, throttling,
disabled users."""

import hashlib
import subprocess
from datetime import timedelta

import pytest
import sqlalchemy as sa

from accord.services.transactions import Database, now
from accord.store import tables as t
from tests.functional.api_support import disable_user
from tests.functional.web.web_support import (
    ADMIN_PASSWORD,
    PASSWORD,
    Browser,
    add_web_user,
    csrf_of,
    text_of,
)
from tests.support import ACCORD, InProcessServer


@pytest.fixture
def browser(server: InProcessServer) -> Browser:
    return Browser(server)


def test_a_page_asks_to_sign_in_first_and_comes_back_after(browser: Browser) -> None:
    reply = browser.get("/d/CLIENTS?q=team")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/sign-in?next=/d/CLIENTS%3Fq%3Dteam"
    form = browser.get(reply.headers["location"])
    assert 'name="next" value="/d/CLIENTS?q=team"' in form.text
    signed = browser.post(
        "/sign-in",
        {
            "login": "admin",
            "password": ADMIN_PASSWORD,
            "csrf": csrf_of(form.text),
            "next": "/d/CLIENTS?q=team",
        },
    )
    assert (signed.status_code, signed.headers["location"]) == (303, "/d/CLIENTS?q=team")
    assert "Teamlead" in text_of(browser.get("/d/CLIENTS?q=team").text)


def test_the_session_cookie_is_http_only_same_site_and_secure_over_https(
    server: InProcessServer,
) -> None:
    plain = Browser(server).sign_in()
    cookie = plain.headers["set-cookie"]
    assert cookie.startswith("accord_session=")
    assert "Max-Age=604800" in cookie  # the session's 7 days
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    secure = Browser(server)
    secure.http.base_url = "https://accord.test"
    assert "Secure" in secure.sign_in().headers["set-cookie"]


def test_a_wrong_password_or_login_is_refused_with_one_message(browser: Browser) -> None:
    for login, password in [("admin", "wrong password"), ("nobody", ADMIN_PASSWORD)]:
        reply = browser.sign_in(login, password)
        assert reply.status_code == 401
        assert "Wrong login or password" in text_of(reply.text)
        assert "accord_session" not in reply.headers.get("set-cookie", "")
        assert f'value="{login}"' in reply.text  # the login typed is kept
    assert browser.get("/").status_code == 303


def test_a_sign_in_without_the_forms_token_is_refused(browser: Browser) -> None:
    data = {"login": "admin", "password": ADMIN_PASSWORD, "csrf": "forged", "next": "/"}
    reply = browser.post("/sign-in", data)
    assert reply.status_code == 403
    assert "expired" in text_of(reply.text)
    assert browser.get("/").status_code == 303


def test_sign_in_never_sends_the_browser_to_another_site(browser: Browser) -> None:
    reply = browser.sign_in(next_="//evil.example/")
    assert (reply.status_code, reply.headers["location"]) == (303, "/")


def test_failed_sign_ins_past_the_limit_lock_the_login_even_for_the_right_password(
    db: Database, server: InProcessServer
) -> None:
    add_web_user(db, "sam", ["main-menu"])
    attacker = Browser(server, address="10.0.0.1")
    for _ in range(10):  # ACCORD_SIGN_IN_FAILURE_LIMIT's default
        assert attacker.sign_in("admin", "guess").status_code == 401
    locked = Browser(server, address="10.0.0.2").sign_in("admin", ADMIN_PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in text_of(locked.text)
    assert "accord_session" not in locked.headers.get("set-cookie", "")
    # Another login, from another address, is not held up; the attacker's address is.
    assert Browser(server, address="10.0.0.3").sign_in("sam", PASSWORD).status_code == 303
    assert attacker.sign_in("sam", PASSWORD).status_code == 429


def test_sign_out_ends_the_session_for_good(browser: Browser) -> None:
    browser.signed_in()
    token = browser.http.cookies["accord_session"]
    reply = browser.post("/sign-out", {"csrf": browser.csrf()})
    assert (reply.status_code, reply.headers["location"]) == (303, "/sign-in")
    assert browser.get("/").status_code == 303
    browser.http.cookies.set("accord_session", token)  # the old cookie, kept by someone
    assert browser.get("/").status_code == 303


def test_an_expired_session_stops_working(db: Database, browser: Browser) -> None:
    browser.signed_in()
    with db.engine.begin() as connection:
        connection.execute(t.web_sessions.update().values(expires_at=now() - timedelta(seconds=1)))
    assert browser.get("/").status_code == 303


def test_only_a_digest_of_the_session_token_is_stored(db: Database, browser: Browser) -> None:
    browser.signed_in()
    token = browser.http.cookies["accord_session"]
    with db.engine.connect() as connection:
        stored = connection.execute(sa.select(t.web_sessions.c.token_hash)).scalars().all()
    assert token not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored


def test_sign_out_without_the_sessions_token_is_refused(browser: Browser) -> None:
    browser.signed_in()
    reply = browser.post("/sign-out", {"csrf": "not-it"})
    assert reply.status_code == 403
    assert "did not come from Accord" in text_of(reply.text)
    assert browser.get("/").status_code == 200


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(
    db: Database, server: InProcessServer
) -> None:
    add_web_user(db, "sam", ["main-menu", "CLIENTS.view"])
    browser = Browser(server).signed_in("sam", PASSWORD)
    assert browser.get("/d/CLIENTS").status_code == 200
    disable_user(db, "sam")
    assert browser.get("/d/CLIENTS").status_code == 303
    assert browser.sign_in("sam", PASSWORD).status_code == 401


def test_accord_user_password_sets_a_password_from_stdin(
    demo_url: str, server: InProcessServer, tmp_path: object
) -> None:
    browser = Browser(server).signed_in()
    done = subprocess.run(
        [ACCORD, "user", "password", "admin", "--password-stdin"],
        input="a new password\n",
        env={"ACCORD_DATABASE_URL": demo_url, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "password of admin set\n", "")
    assert browser.get("/").status_code == 303  # a new password ends the user's sessions
    assert Browser(server).sign_in("admin", ADMIN_PASSWORD).status_code == 401
    assert Browser(server).sign_in("admin", "a new password").status_code == 303


def test_accord_user_password_refuses_a_short_one(demo_url: str) -> None:
    done = subprocess.run(
        [ACCORD, "user", "password", "admin", "--password-stdin"],
        input="short\n",
        env={"ACCORD_DATABASE_URL": demo_url, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "error: A password is 8 to 1024 characters, without control characters\n"
    )
