"""Personal API tokens of the REST API (stored as digests) and idempotency keys."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from accord.store import tables as t

_T = t.api_tokens.c
_K = t.idempotency_keys.c


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: int
    user_id: int
    name: str
    read_only: bool
    directory_ids: tuple[int, ...] | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def _row(row: Any) -> TokenRow:
    ids = None if row.directory_ids is None else tuple(row.directory_ids)
    return TokenRow(
        row.id,
        row.user_id,
        row.name,
        row.read_only,
        ids,
        row.created_at,
        row.expires_at,
        row.last_used_at,
        row.revoked_at,
    )


_FIELDS = (
    _T.id,
    _T.user_id,
    _T.name,
    _T.read_only,
    _T.directory_ids,
    _T.created_at,
    _T.expires_at,
    _T.last_used_at,
    _T.revoked_at,
)
_BY_HASH = sa.select(*_FIELDS).where(_T.token_hash == sa.bindparam("token_hash"))


def insert_token(
    connection: sa.Connection,
    *,
    user_id: int,
    name: str,
    token_hash: str,
    read_only: bool,
    directory_ids: Sequence[int] | None,
    at: datetime,
    expires_at: datetime | None,
) -> TokenRow:
    row = connection.execute(
        sa.insert(t.api_tokens)
        .values(
            user_id=user_id,
            name=name,
            token_hash=token_hash,
            read_only=read_only,
            directory_ids=None if directory_ids is None else list(directory_ids),
            created_at=at,
            expires_at=expires_at,
        )
        .returning(*_FIELDS)
    ).one()
    return _row(row)


def token_by_hash(connection: sa.Connection, token_hash: str) -> TokenRow | None:
    row = connection.execute(_BY_HASH, {"token_hash": token_hash}).first()
    return None if row is None else _row(row)


def tokens_of(connection: sa.Connection, user_id: int) -> list[TokenRow]:
    rows = connection.execute(sa.select(*_FIELDS).where(_T.user_id == user_id).order_by(_T.id))
    return [_row(row) for row in rows]


def revoke_token(
    connection: sa.Connection, token_id: int, at: datetime, *, user_id: int | None = None
) -> bool:
    """Revoke an active token (only if `user_id` holds it, when given)."""
    owned = [] if user_id is None else [_T.user_id == user_id]
    done = connection.execute(
        sa.update(t.api_tokens)
        .where(_T.id == token_id, _T.revoked_at.is_(None), *owned)
        .values(revoked_at=at)
    )
    return done.rowcount > 0


def touch_token(connection: sa.Connection, token_id: int, at: datetime) -> None:
    connection.execute(sa.update(t.api_tokens).where(_T.id == token_id).values(last_used_at=at))


# Idempotency keys


@dataclass(frozen=True, slots=True)
class StoredReply:
    fingerprint: str
    status: int
    headers: dict[str, str]
    body: bytes


def stored_reply(connection: sa.Connection, user_id: int, key: str) -> StoredReply | None:
    row = connection.execute(
        sa.select(_K.fingerprint, _K.status, _K.headers, _K.body).where(
            _K.user_id == user_id, _K.key == key
        )
    ).first()
    return None if row is None else StoredReply(row[0], row[1], dict(row[2]), bytes(row[3]))


def claim_key(
    connection: sa.Connection, user_id: int, key: str, fingerprint: str, at: datetime
) -> None:
    """Take a key before its request runs; a concurrent request with the same key waits
    here for this transaction's end, then fails (PostgreSQL) or never gets here (SQLite)."""
    connection.execute(
        sa.insert(t.idempotency_keys).values(
            user_id=user_id,
            key=key,
            fingerprint=fingerprint,
            status=0,
            headers={},
            body=b"",
            created_at=at,
        )
    )


def store_reply(connection: sa.Connection, user_id: int, key: str, reply: StoredReply) -> None:
    """Keep the reply to the request that claimed the key."""
    connection.execute(
        sa.update(t.idempotency_keys)
        .where(_K.user_id == user_id, _K.key == key)
        .values(
            fingerprint=reply.fingerprint,
            status=reply.status,
            headers=reply.headers,
            body=reply.body,
        )
    )


def release_key(connection: sa.Connection, user_id: int, key: str) -> None:
    connection.execute(sa.delete(t.idempotency_keys).where(_K.user_id == user_id, _K.key == key))


def forget_replies_before(connection: sa.Connection, moment: datetime) -> int:
    done = connection.execute(sa.delete(t.idempotency_keys).where(_K.created_at < moment))
    return done.rowcount
