"""Personal API tokens for the REST API: shown once, stored as digests, scoped."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from accord.domain.errors import AccordError, InvalidToken
from accord.domain.names import checked_name
from accord.domain.rights import Rights
from accord.domain.text import has_invalid_characters
from accord.domain.users import Actor, User
from accord.services.transactions import CacheKind, now
from accord.services.users import get_user
from accord.store import tokens as store
from accord.store import users as user_store
from accord.store.database import Transaction
from accord.store.tokens import TokenRow

PREFIX = "acc_"
ACTIVE = "active"
MAX_DAYS = 3650


@dataclass(frozen=True, slots=True)
class TokenUse:
    """Who a token acts for, with the rights it allows, and the token itself."""

    actor: Actor
    token: TokenRow


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def create_token(
    tx: Transaction,
    login: str,
    *,
    name: str = "",
    read_only: bool = False,
    directories: list[str] | None = None,
    expires_days: int | None = None,
    actor: Actor,
) -> tuple[str, TokenRow]:
    """A new token for a user (administrators, or the user themselves); its text is
    returned once, here. The token never allows more than its user's own rights."""
    user = get_user(tx, login)
    _require_self_or_admin(actor, user)
    if expires_days is not None and not 1 <= expires_days <= MAX_DAYS:
        raise AccordError(f"A token expires in 1 to {MAX_DAYS} days").about("expires_days")
    ids = None if not directories else sorted({tx.schema.find_directory(d).id for d in directories})
    text = PREFIX + secrets.token_urlsafe(32)
    at = now()
    row = store.insert_token(
        tx.connection,
        user_id=user.id,
        name=checked_name(name or f"token of {user.login}"),
        token_hash=_digest(text),
        read_only=read_only,
        directory_ids=ids,
        at=at,
        expires_at=None if expires_days is None else at + timedelta(days=expires_days),
    )
    return text, row


def list_tokens(tx: Transaction, login: str, *, actor: Actor) -> list[TokenRow]:
    """A user's tokens, oldest first (administrators, or the user themselves)."""
    user = get_user(tx, login)
    _require_self_or_admin(actor, user)
    return store.tokens_of(tx.connection, user.id)


def revoke_token(tx: Transaction, token_id: int, *, actor: Actor) -> None:
    """Revoke a token (any, for an administrator; else one of the actor's own): it stops
    working at once, in every process."""
    owner = None if actor.rights.is_admin else actor.user_id
    if owner is None:
        actor.rights.require_admin()  # no user and no administration: nothing to revoke
    if not store.revoke_token(tx.connection, token_id, now(), user_id=owner):
        raise AccordError(f"No active token with id {token_id}")
    tx.changed(CacheKind.AUTH)


def _require_self_or_admin(actor: Actor, user: User) -> None:
    """A user manages their own tokens; only an administrator those of others. (Only the
    web UI's sessions and the CLI call these: no REST route makes a token, so a limited
    token cannot make itself a wider one.)"""
    if actor.user_id != user.id:
        actor.rights.require_admin()


def token_state(row: TokenRow, at: datetime) -> str:
    """Whether a token works at `at`: ACTIVE, or why not ("revoked", "expired")."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= at:
        return "expired"
    return ACTIVE


def authenticate_token(tx: Transaction, token: str, *, edge: str) -> TokenUse:
    """The actor a bearer token stands for, its rights cut down to the token's scope."""
    found = tx.cached(CacheKind.AUTH, ("token", _digest(token)), lambda: _load(tx, token))
    if found is None:
        raise InvalidToken("The bearer token is not valid")
    row, user, rights = found
    if token_state(row, now()) != ACTIVE:
        raise InvalidToken("The bearer token is revoked or expired")
    return TokenUse(Actor(user, rights, edge), row)


def _load(tx: Transaction, token: str) -> tuple[TokenRow, User, Rights] | None:
    if not token.startswith(PREFIX) or has_invalid_characters(token):
        return None
    row = store.token_by_hash(tx.connection, _digest(token))
    user = None if row is None else user_store.user_by_id(tx.connection, row.user_id)
    if row is None or user is None or not user.is_active:
        return None
    rights = user_store.load_rights(tx.connection, user).limited(
        read_only=row.read_only,
        directory_ids=None if row.directory_ids is None else frozenset(row.directory_ids),
        all_directories=frozenset(d.id for d in tx.schema.directories),
    )
    return row, user, rights


def touch_token(tx: Transaction, token_id: int) -> None:
    store.touch_token(tx.connection, token_id, now())
