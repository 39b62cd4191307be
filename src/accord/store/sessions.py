"""Web UI sessions (stored by the digest of their token) and users' password hashes."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from accord.store import tables as t

_S = t.web_sessions.c
_U = t.users.c


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    user_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime


_FIELDS = (_S.id, _S.user_id, _S.csrf_token, _S.created_at, _S.expires_at)


def insert_session(
    connection: sa.Connection,
    *,
    token_hash: str,
    user_id: int,
    csrf_token: str,
    at: datetime,
    expires_at: datetime,
) -> SessionRow:
    row = connection.execute(
        sa.insert(t.web_sessions)
        .values(
            token_hash=token_hash,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=at,
            expires_at=expires_at,
        )
        .returning(*_FIELDS)
    ).one()
    return SessionRow(*row)


def session_by_hash(connection: sa.Connection, token_hash: str) -> SessionRow | None:
    row = connection.execute(sa.select(*_FIELDS).where(_S.token_hash == token_hash)).first()
    return None if row is None else SessionRow(*row)


def delete_session(connection: sa.Connection, token_hash: str) -> bool:
    done = connection.execute(sa.delete(t.web_sessions).where(_S.token_hash == token_hash))
    return done.rowcount > 0


def delete_sessions_of(connection: sa.Connection, user_id: int) -> int:
    return connection.execute(sa.delete(t.web_sessions).where(_S.user_id == user_id)).rowcount


def delete_expired_sessions(connection: sa.Connection, user_id: int, moment: datetime) -> None:
    connection.execute(
        sa.delete(t.web_sessions).where(_S.user_id == user_id, _S.expires_at <= moment)
    )


def password_hash(connection: sa.Connection, user_id: int) -> str | None:
    found: str | None = connection.execute(
        sa.select(_U.password_hash).where(_U.id == user_id)
    ).scalar()
    return found


def set_password_hash(connection: sa.Connection, user_id: int, hashed: str | None) -> None:
    connection.execute(sa.update(t.users).where(_U.id == user_id).values(password_hash=hashed))
