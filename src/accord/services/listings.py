"""Listing entries for the REST API: filters, full text, sort, cursor pages, totals."""

from dataclasses import dataclass

from accord.domain.entries import Entry, EntryRef
from accord.domain.errors import InvalidQuery
from accord.domain.filters import Filter
from accord.domain.query import (
    DEFAULT_SORT,
    Both,
    Condition,
    bind,
    decode_cursor,
    encode_cursor,
    fingerprint,
    parse_sort,
    search_text,
)
from accord.domain.rights import Action
from accord.domain.schema import Directory
from accord.domain.users import Actor
from accord.services.entries import locate, with_names
from accord.services.resolver import StoreResolver
from accord.store import history
from accord.store import listing as store
from accord.store.database import Transaction
from accord.store.entries import NameRequest, fetch_names

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter: Filter | None = None
    text: str = ""
    """`q`: found in the name or any text field, case-insensitively."""
    sort: str = ""
    cursor: str = ""
    limit: int = 50
    with_total: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[Entry]
    next_cursor: str | None
    total: int | None


def list_entries(tx: Transaction, directory: Directory, query: ListQuery, *, actor: Actor) -> Page:
    """One page of a directory's entries; `next_cursor` continues after its last one.

    Pages follow a total order (the id ends every sort), each starting strictly after
    the previous page's last position, so paging on while others write never returns
    an entry twice and never skips one that was there all along.
    """
    actor.rights.require_on(Action.VIEW, directory)
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit is 1 to {MAX_LIMIT}")
    condition = _condition(tx, directory, query, actor)
    sort = parse_sort(query.sort, directory, tx.schema) if query.sort else DEFAULT_SORT
    key = fingerprint(directory.code, repr(query.filter), query.text, repr(sort))
    after = decode_cursor(query.cursor, key, sort) if query.cursor else None
    rows = store.page(tx.connection, directory.id, condition, sort, after, query.limit + 1)
    more, rows = len(rows) > query.limit, rows[: query.limit]
    entries = with_names(tx, directory, [entry for entry, _ in rows], contacts=True)
    total = store.count(tx.connection, directory.id, condition) if query.with_total else None
    return Page(entries, encode_cursor(rows[-1][1], key) if more else None, total)


def _condition(
    tx: Transaction, directory: Directory, query: ListQuery, actor: Actor
) -> Condition | None:
    parts: list[Condition] = []
    if query.filter is not None:
        parts.append(bind(query.filter, directory, tx.schema, StoreResolver(tx, actor)))
    if query.text.strip():
        parts.append(search_text(directory, tx.schema, query.text))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Both(tuple(parts))


@dataclass(frozen=True, slots=True)
class HistoryItem:
    change: history.Change
    login: str | None
    """Who made it (None: Accord itself, through the CLI or a job)."""


def entry_history(
    tx: Transaction, directory: Directory, entry_id: int, *, actor: Actor
) -> list[HistoryItem]:
    """Every recorded change of an entry, oldest first (it must still exist)."""
    actor.rights.require_on(Action.VIEW, directory)
    locate(tx, directory, EntryRef(id=entry_id), actor)
    changes = history.changes_of(tx.connection, directory.id, entry_id)
    ids = {c.user_id for c in changes if c.user_id is not None}
    logins = fetch_names(tx.connection, NameRequest(users=ids)).users
    return [HistoryItem(c, None if c.user_id is None else logins.get(c.user_id)) for c in changes]
