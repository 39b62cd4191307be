"""Who is calling: the instance's API key, users, and their rights."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from accord.domain.errors import AccordError, ApiKeyNotConfigured, UserNotFound, WrongApiKey
from accord.domain.rights import Rights
from accord.domain.text import fold, has_invalid_characters
from accord.domain.users import Actor, User
from accord.services.transactions import now
from accord.store import instance as instance_store
from accord.store import users as user_store
from accord.store.database import CacheKind, Transaction

MIN_API_KEY_LENGTH = 8


def hash_api_key(key: str) -> str:
    # A fast hash is right for a long random secret; a slow one would tax every request.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def generate_api_key(tx: Transaction) -> str:
    """Make a new random API key, store its hash, and return it (shown once)."""
    key = secrets.token_urlsafe(32)
    set_api_key(tx, key)
    return key


def set_api_key(tx: Transaction, key: str) -> None:
    """Make `key` the instance's API key; the old one stops working at once."""
    if len(key) < MIN_API_KEY_LENGTH or not key.isascii() or not key.isprintable() or " " in key:
        raise AccordError(
            f"An API key is at least {MIN_API_KEY_LENGTH} printable ASCII characters, no spaces"
        )
    instance_store.set_api_key_hash(tx.connection, hash_api_key(key), now())


def replace_api_key(tx: Transaction, *, actor: Actor) -> str:
    """`generate_api_key` for an administrator: the new key, shown once; the old one stops
    working at once."""
    actor.rights.require_admin()
    return generate_api_key(tx)


@dataclass(frozen=True, slots=True)
class ApiKeyState:
    """Whether the instance has an API key, and since when (None: before Accord noted it)."""

    is_set: bool
    set_at: datetime | None


def api_key_state(tx: Transaction, *, actor: Actor) -> ApiKeyState:
    """Whether an API key is set and when (administrators only; the key itself is never
    shown again)."""
    actor.rights.require_admin()
    set_at = instance_store.api_key_set_at(tx.connection)
    return ApiKeyState(tx.instance.api_key_hash is not None, set_at)


def api_key_is(tx: Transaction, key: str) -> bool:
    """Whether `key` is the instance's API key (compared in constant time)."""
    stored = tx.instance.api_key_hash
    return stored is not None and hmac.compare_digest(hash_api_key(key), stored)


def authenticate(tx: Transaction, *, api_key: str | None, login: str | None, edge: str) -> Actor:
    """The actor a legacy-style call names, after checking the instance's API key."""
    digest = hash_api_key(api_key) if api_key else None
    return authenticate_digest(tx, api_key_digest=digest, login=login, edge=edge)


def authenticate_digest(
    tx: Transaction, *, api_key_digest: str | None, login: str | None, edge: str
) -> Actor:
    """`authenticate` for a key given as its `hash_api_key` (None: no key sent), for a
    caller that needs the digest too (the legacy API's throttle knows keys by it)."""
    stored = tx.instance.api_key_hash
    if stored is None:
        raise ApiKeyNotConfigured
    if not api_key_digest or not hmac.compare_digest(api_key_digest, stored):
        raise WrongApiKey
    found = _user_and_rights(tx, login or "")
    if found is None:
        raise UserNotFound
    user, rights = found
    return Actor(user, rights, edge)


def _user_and_rights(tx: Transaction, login: str) -> tuple[User, Rights] | None:
    if has_invalid_characters(login):
        return None  # no login holds undecodable bytes or control characters

    def load() -> tuple[User, Rights] | None:
        user = user_store.find_user(tx.connection, login.strip())
        if user is None or not user.is_active:
            return None
        return user, user_store.load_rights(tx.connection, user)

    return tx.cached(CacheKind.AUTH, fold(login.strip()), load)
