"""Idempotency keys: a POST or PATCH sent again with the same key returns the first reply.

The key is claimed before the request runs and its reply kept in the same transaction
as the write it answers, so either both are there or neither is. Two requests with one
key at the same time: the second waits on the key's row (PostgreSQL) or on the write
lock (SQLite) before it writes anything, then finds the first one's reply.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from accord.domain.errors import AccordError, Family, InvalidQuery
from accord.domain.text import has_invalid_characters
from accord.services.transactions import now
from accord.store import tokens as store
from accord.store.database import Transaction
from accord.store.tokens import StoredReply

KEEP = timedelta(hours=24)
"""How long a reply is kept (`forget_old` drops older ones)."""
MAX_KEY_LENGTH = 255


class IdempotencyMismatch(AccordError):
    code = "idempotency_conflict"
    family = Family.CONFLICT

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was used for a different request")


class IdempotencyRace(AccordError):
    """Another request with the same key committed first; its reply is the answer."""

    code = "idempotency_race"

    def __init__(self) -> None:
        super().__init__("A request with this Idempotency-Key was answered meanwhile")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


def fingerprint(method: str, target: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + target.encode() + b"\n" + body).hexdigest()


def checked_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or has_invalid_characters(key):
        raise InvalidQuery(f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable characters")
    return key


def replay(tx: Transaction, user_id: int, key: str, request: str) -> Reply | None:
    """The reply kept for this key, if any (refused if it answered another request)."""
    stored = store.stored_reply(tx.connection, user_id, key)
    if stored is None:
        return None
    if stored.fingerprint != request:
        raise IdempotencyMismatch
    return Reply(stored.status, stored.body, stored.headers)


def claim(tx: Transaction, user_id: int, key: str, request: str) -> None:
    """Take the key for this request, before it runs: IdempotencyRace if another request
    with the key committed meanwhile (run again, and `replay` finds its reply)."""
    try:
        store.claim_key(tx.connection, user_id, key, request, now())
    except IntegrityError as error:
        raise IdempotencyRace from error


def keep(tx: Transaction, user_id: int, key: str, request: str, reply: Reply) -> None:
    """Keep the reply of the request that claimed the key; a server error is not kept,
    so that a retry runs again."""
    if reply.status >= 500:
        store.release_key(tx.connection, user_id, key)
    else:
        store.store_reply(
            tx.connection,
            user_id,
            key,
            StoredReply(request, reply.status, reply.headers, reply.body),
        )


def forget_old(tx: Transaction) -> int:
    """Drop replies kept longer than a day."""
    return store.forget_replies_before(tx.connection, now() - KEEP)
