"""Signing in to the web UI: passwords (Argon2id) and server-side sessions.

A session's token is random, handed to the browser once (in a cookie) and stored only as
its SHA-256 digest, as API tokens are. Each session has its own CSRF token, which every
form of the session sends back. A session stops working when it expires, when its user
signs out, and at once when its user is disabled (the "auth" cache is invalidated).
"""

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from accord.domain.errors import AccordError
from accord.domain.passwords import MAX_PASSWORD_LENGTH, checked_password
from accord.domain.rights import Rights
from accord.domain.text import has_invalid_characters
from accord.domain.users import Actor, User
from accord.services.transactions import CacheKind, now
from accord.services.users import get_user
from accord.store import sessions as store
from accord.store import users as user_store
from accord.store.database import Transaction
from accord.store.sessions import SessionRow

SESSION_LIFETIME = timedelta(days=7)
"""A session ends this long after its sign-in (signing out ends it sooner)."""
EDGE = "web"
_HASHER = PasswordHasher()  # Argon2id, RFC 9106's second recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """What an unknown login's password is checked against (so it takes as long as a
    known one's); made on first use, not at import: a hash costs a third of a second,
    which every CLI command and server start would pay."""
    return _HASHER.hash("a password no user has")


"""Verified against when no user has the login: a wrong login costs what a wrong
password costs, so timing does not tell which logins exist."""


class SignInRefused(AccordError):
    """Wrong login or password, or a user who may not sign in: one message for all."""

    code = "sign_in_refused"

    def __init__(self) -> None:
        super().__init__("Wrong login or password")


class SessionInvalid(AccordError):
    """No session, or one that expired, was ended, or whose user was disabled."""

    code = "session_invalid"

    def __init__(self) -> None:
        super().__init__("Please sign in")


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in browser: who acts, and the CSRF token its forms carry."""

    actor: Actor
    csrf_token: str
    session_id: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def set_password(tx: Transaction, login: str, password: str, *, actor: Actor) -> User:
    """Give a user a new web UI password (administrators only); the user's sessions end."""
    actor.rights.require_admin()
    user = get_user(tx, login)
    hashed = _HASHER.hash(checked_password(password))
    store.set_password_hash(tx.connection, user.id, hashed)
    _end_sessions_of(tx, user.id)
    return user


def password_matches(tx: Transaction, login: str, password: str) -> bool:
    """Whether `password` is the user's password now (for the demo's own report)."""
    return _verified(stored_credential(tx, login).hashed, password)


def _end_sessions_of(tx: Transaction, user_id: int) -> None:
    if store.delete_sessions_of(tx.connection, user_id):
        tx.changed(CacheKind.AUTH)


@dataclass(frozen=True, slots=True)
class Verified:
    """A login and password found right: whose, and a fresh hash if the stored one was
    made with older parameters (kept by `start_session`)."""

    user_id: int
    rehashed: str | None = None


@dataclass(frozen=True, slots=True)
class Credential:
    """What a sign-in is checked against: the user who may sign in by that login (None:
    nobody) and the password hash stored for them."""

    user_id: int | None
    hashed: str | None


def stored_credential(tx: Transaction, login: str) -> Credential:
    """The first step of signing in, a short read: the credential `check_password` checks."""
    user = _user_signing_in(tx, login)
    if user is None or not user.is_active:
        return Credential(None, None)
    return Credential(user.id, store.password_hash(tx.connection, user.id))


def check_password(credential: Credential, password: str) -> Verified:
    """The second step, outside any transaction: whether `password` is the credential's
    (SignInRefused if not, or if nobody may sign in by that login). Verifying takes a
    tenth of a second and 64 MiB on purpose, so it holds no connection, and callers bound
    how many run at once. An unknown login costs the same as a known one."""
    if not _verified(credential.hashed, password) or credential.user_id is None:
        raise SignInRefused
    assert credential.hashed is not None
    needs_rehash = _HASHER.check_needs_rehash(credential.hashed)
    return Verified(credential.user_id, _HASHER.hash(password) if needs_rehash else None)


def start_session(tx: Transaction, verified: Verified) -> tuple[str, WebSession]:
    """The last step, in a write transaction: a new session for the user `check_password`
    vouched for (SignInRefused if the user was disabled since). Returns the session's
    token, for the cookie (shown once), and the session."""
    user = user_store.user_by_id(tx.connection, verified.user_id)
    if user is None or not user.is_active:
        raise SignInRefused
    if verified.rehashed is not None:
        store.set_password_hash(tx.connection, user.id, verified.rehashed)
    at = now()
    store.delete_expired_sessions(tx.connection, user.id, at)
    token = secrets.token_urlsafe(32)
    row = store.insert_session(
        tx.connection,
        token_hash=_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        at=at,
        expires_at=at + SESSION_LIFETIME,
    )
    rights = user_store.load_rights(tx.connection, user)
    return token, WebSession(Actor(user, rights, EDGE), row.csrf_token, row.id)


def _user_signing_in(tx: Transaction, login: str) -> User | None:
    if not login.strip() or len(login) > 255 or has_invalid_characters(login):
        return None
    return user_store.find_user(tx.connection, login.strip())


def _verified(hashed: str | None, password: str) -> bool:
    if len(password) > MAX_PASSWORD_LENGTH or has_invalid_characters(password):
        password = ""  # never hashed as given; still verified, so it costs the same
    try:
        return _HASHER.verify(hashed or _dummy_hash(), password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def authenticate_session(tx: Transaction, token: str) -> WebSession:
    """The session a cookie's token stands for; SessionInvalid if none works now."""
    found = tx.cached(CacheKind.AUTH, ("web-session", _digest(token)), lambda: _load(tx, token))
    if found is None:
        raise SessionInvalid
    row, user, rights = found
    if row.expires_at <= now():
        raise SessionInvalid
    return WebSession(Actor(user, rights, EDGE), row.csrf_token, row.id)


def _load(tx: Transaction, token: str) -> tuple[SessionRow, User, Rights] | None:
    if not token or len(token) > 128 or has_invalid_characters(token):
        return None
    row = store.session_by_hash(tx.connection, _digest(token))
    user = None if row is None else user_store.user_by_id(tx.connection, row.user_id)
    if row is None or user is None or not user.is_active:
        return None
    return row, user, user_store.load_rights(tx.connection, user)


def sign_out(tx: Transaction, token: str) -> None:
    """End the session of this token, in every process (nothing if there is none)."""
    if store.delete_session(tx.connection, _digest(token)):
        tx.changed(CacheKind.AUTH)
