"""Listing entries for the REST API: filters, full text, sort, cursor pages, totals."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from accord.domain.entries import Entry, EntryRef
from accord.domain.errors import InvalidQuery
from accord.domain.filters import Filter
from accord.domain.query import (
    DEFAULT_SORT,
    RELEVANCE,
    Both,
    Condition,
    Negate,
    SortKey,
    bind,
    decode_cursor,
    encode_cursor,
    fingerprint,
    name_starts_with,
    parse_sort,
    search_text,
    starting_with,
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
    """`q`: every word found in the name or a text field, case-insensitively; without
    a sort, the entries whose name starts with it come first (`RELEVANCE`)."""
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
    ranked = not query.sort and query.text.strip() != ""
    sort = _sort(tx, directory, query, ranked)
    key = fingerprint(directory.code, repr(query.filter), query.text, repr(sort))
    after = decode_cursor(query.cursor, key, sort) if query.cursor else None
    if ranked:
        assert condition is not None
        starts = name_starts_with(directory, tx.schema, query.text)
        rows = ranked_page(tx, directory, condition, starts, after, query.limit + 1)
    else:
        rows = store.page(tx.connection, directory.id, condition, sort, after, query.limit + 1)
    more, rows = len(rows) > query.limit, rows[: query.limit]
    entries = with_names(tx, directory, [entry for entry, _ in rows], contacts=True)
    total = store.count(tx.connection, directory.id, condition) if query.with_total else None
    return Page(entries, encode_cursor(rows[-1][1], key) if more else None, total)


def _sort(
    tx: Transaction, directory: Directory, query: ListQuery, ranked: bool
) -> tuple[SortKey, ...]:
    if ranked:
        return RELEVANCE
    return parse_sort(query.sort, directory, tx.schema) if query.sort else DEFAULT_SORT


def ranked_page(
    tx: Transaction,
    directory: Directory,
    condition: Condition,
    starts: Condition | None,
    after: Sequence[Any] | None,
    limit: int,
) -> list[tuple[Entry, tuple[Any, ...]]]:
    """Up to `limit` entries that hold `condition`, in the order of relevance after the
    position `after` (rank, id): first those that hold `starts` too, then the others,
    each in id order. Each rank is read from where the position left it."""
    if starts is None:  # one rank: every entry is as relevant as any other
        ranks: list[tuple[int, Condition]] = [(1, condition)]
    else:
        ranks = [(0, starting_with(condition, starts)), (1, Both((condition, Negate(starts))))]
    found: list[tuple[Entry, tuple[Any, ...]]] = []
    for rank, holding in ranks:
        if after is not None and rank < after[0]:
            continue
        start = (after[1],) if after is not None and rank == after[0] else None
        rows = store.page(
            tx.connection, directory.id, holding, DEFAULT_SORT, start, limit - len(found)
        )
        found.extend((entry, (rank, entry.id)) for entry, _ in rows)
        if len(found) >= limit:
            break
    return found


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
