"""Pages of entries: a bound condition, an order and a position, compiled to one query.

Conditions test the value index (pieces of text: the text index, `store.texts`) with
correlated EXISTS probes (`store.probes`), which every database runs as index lookups.
Which side drives the plan matters at a million entries: walking the directory in order
and probing each entry finds a page fast when matches are many, and starting from the
index wins when they are few (`store.drive` decides).

The commonest page needs neither: in id order (the default), filtered on one value of
a field. The value index lists a value's holders by row key, which is id order
(`tables.entry_row_key`), so such a page reads the index in order from the cursor and
stops after `limit` matches, however many entries hold the value (`_in_index_order`).
On SQLite a page in id order of a piece of text reads the text index in its order the
same way (`_in_text_order`); on PostgreSQL one looks in the next few ids first
(`_window`).
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from accord.domain.entries import Entry
from accord.domain.query import (
    Both,
    Condition,
    KeyPrefix,
    KeysIn,
    SortKey,
    TextHas,
)
from accord.domain.text import search_form
from accord.store import drive, driver, probes, text_page, texts
from accord.store import tables as t
from accord.store.drive import DRIVE_MAX
from accord.store.entries import COLUMNS, entry_from_row
from accord.store.probes import PLANNED_PROBES, SQLITE_TEXTS

WINDOW_PER_ROW = 32
"""PostgreSQL tests this many ids a row of a page before it counts a piece's holders
(`_window`): a piece held by one entry in 32 or more fills the page there."""
WINDOW_MIN = 256

_E = t.entries.c
_V = t.entry_values
_BEFORE_EVERY_ROW, _PAST_EVERY_ROW = -1, 2**63 - 1
"""Row keys below and above every entry's (a page in id order with no cursor starts
there, up or down)."""


def page(
    connection: sa.Connection,
    directory_id: int,
    condition: Condition | None,
    sort: Sequence[SortKey],
    after: Sequence[Any] | None,
    limit: int,
) -> list[tuple[Entry, tuple[Any, ...]]]:
    """Up to `limit` entries after position `after`, each with its position."""
    condition = _sieved(connection, condition)
    _plan_for_the_values(connection, condition)
    if condition is None or not _windowed(connection, condition, sort):
        return _page(connection, directory_id, condition, sort, after, limit)
    # A window that reaches the last id holds every match after `after`: no count and no
    # page follow (an empty or small directory, in each of `/search`'s, costs one read).
    last = drive.last_number(connection, directory_id)
    if last <= _window_start(after):
        return []
    found, end = _window(connection, directory_id, condition, after, limit)
    if len(found) >= limit or end >= last:
        return found
    return found + _page(connection, directory_id, condition, sort, (end,), limit - len(found))


def _page(
    connection: sa.Connection,
    directory_id: int,
    condition: Condition | None,
    sort: Sequence[SortKey],
    after: Sequence[Any] | None,
    limit: int,
) -> list[tuple[Entry, tuple[Any, ...]]]:
    key = _one_key(connection, condition) if _by_id(sort) else None
    if key is not None and condition is not None:
        return _in_index_order(
            connection, directory_id, condition, key, sort[0].descending, after, limit
        )
    piece = _indexed_piece(connection, condition) if _by_id(sort) else None
    if piece is not None and condition is not None:
        return _in_text_order(
            connection, directory_id, condition, piece, sort[0].descending, after, limit
        )
    positions, joins = _sort_columns(sort)
    query = sa.select(*COLUMNS, *positions).select_from(joins)
    first = None
    if _by_id(sort):
        row = None if after is None else t.entry_row_key(directory_id, int(after[0]))
        first = drive.First(row, sort[0].descending, limit)
    where, driven = drive.filters(connection, directory_id, condition, limit, first)
    query = query.where(*where)
    if after is not None:
        query = query.where(_after(positions, sort, after))
    ordered = positions
    if driven and connection.dialect.name == "postgresql":
        # From the few holders, then sorted: in id order, PostgreSQL walked the whole
        # directory by its index instead, testing each entry against them (270 ms at
        # 200,000 companies for a word none holds). `+ 0` is no indexed order.
        ordered = [
            p + 0 if k.column == "number" else p for p, k in zip(positions, sort, strict=True)
        ]
    order = [p.desc() if key.descending else p.asc() for p, key in zip(ordered, sort, strict=True)]
    rows = connection.execute(query.order_by(*order).limit(limit)).all()
    width = len(COLUMNS)
    return [(entry_from_row(row[:width]), tuple(row[width:])) for row in rows]


def _plan_for_the_values(connection: sa.Connection, condition: Condition | None) -> None:
    """PostgreSQL: plan this transaction's statements for the values they are given.

    The driver prepares a statement run often, and after five runs PostgreSQL may keep
    a plan made for any values (a generic plan). For a piece of text or a prefix that
    plan cannot know how many texts hold it: under load, a page of a piece held by 20
    contacts went from 9 to 100 ms once it took over (the statements' shapes repeat from
    one search to the next). `SET LOCAL` holds until the transaction ends; point reads
    and pages without a condition keep their generic plans."""
    if condition is not None and connection.dialect.name == "postgresql":
        driver.execute(connection, "SET LOCAL plan_cache_mode = force_custom_plan")


def _windowed(connection: sa.Connection, condition: Condition, sort: Sequence[SortKey]) -> bool:
    """PostgreSQL, a page in id order of entries holding a piece of text or a prefix:
    first look for them in the next few entries (`_window`). Common pieces (a surname, a
    word of company names) and prefixes (a first name) fill the page there, in a few
    milliseconds, where counting their holders to choose a plan reads all of them (a
    trigram index cannot stop early: 8 ms for 25,000 holders) and the planner, left to
    itself, misjudges them."""
    return (
        connection.dialect.name == "postgresql"
        and _by_id(sort)
        and not sort[0].descending
        and any(isinstance(c, TextHas | KeyPrefix) for c in probes.required(condition))
    )


def _window(
    connection: sa.Connection,
    directory_id: int,
    condition: Condition,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[tuple[Entry, tuple[Any, ...]]], int]:
    """Up to `limit` matches among the next ids after `after` (a window of `WINDOW_PER_ROW`
    ids a row of the page), in id order, and the last id of the window. Each entry is
    tested by its own rows of the indexes (`IS TRUE` keeps every probe per entry: as a
    join, PostgreSQL would read all the holders of the piece first)."""
    low = _window_start(after)
    high = low + max(WINDOW_MIN, WINDOW_PER_ROW * limit)
    tests = [
        probes.where(c, "postgresql", directory_id, frozenset())
        for c in probes.distinct(probes.required(condition))
    ]
    query = (
        sa.select(*COLUMNS)
        .where(_E.directory_id == directory_id, _E.number > low, _E.number <= high, *tests)
        .order_by(_E.number)
        .limit(limit)
    )
    entries = [entry_from_row(row) for row in connection.execute(query)]
    return [(entry, (entry.id,)) for entry in entries], high


def _window_start(after: Sequence[Any] | None) -> int:
    """The id a window starts after."""
    return int(after[0]) if after is not None else 0


def _in_index_order(
    connection: sa.Connection,
    directory_id: int,
    condition: Condition,
    key: KeysIn,
    descending: bool,
    after: Sequence[Any] | None,
    limit: int,
) -> list[tuple[Entry, tuple[Any, ...]]]:
    """A page in id order, walking the holders of `key` (a condition every match
    passes) in the value index's order, which is id order."""
    if after is not None:
        start = t.entry_row_key(directory_id, int(after[0]))
    else:
        start = _PAST_EVERY_ROW if descending else _BEFORE_EVERY_ROW
    others = [c for c in probes.distinct(probes.required(condition)) if c != key]
    if not others:
        # The commonest page of all, one statement on the driver: building and compiling
        # the query below, and SQLAlchemy's processing of 50 rows, cost a third of it.
        rows = driver.holders_page(
            connection,
            directory_id,
            key.field_id,
            key.keys[0],
            after_row=start,
            descending=descending,
            limit=limit,
        )
        return [(entry, (entry.id,)) for entry in map(entry_from_row, rows)]
    # An alias, so the other conditions' probes of the value index stay their own.
    held = _V.alias("held")
    row = held.c.entry_pk
    dialect = connection.dialect.name
    planned = probes.planned(others, dialect, PLANNED_PROBES - 1)
    rest = [probes.where(c, dialect, directory_id, planned) for c in others]
    query = (
        sa.select(*COLUMNS)
        .select_from(held.join(t.entries, _E.pk == row))
        # `+ 0` keeps SQLite off the directory index: the value index leads.
        .where(held.c.field_id == key.field_id, held.c.key == key.keys[0])
        .where((_E.directory_id + 0) == directory_id, *rest)
        .where(row < start if descending else row > start)
    )
    query = query.order_by(row.desc() if descending else row.asc()).limit(limit)
    entries = [entry_from_row(r) for r in connection.execute(query)]
    return [(entry, (entry.id,)) for entry in entries]


def _in_text_order(
    connection: sa.Connection,
    directory_id: int,
    condition: Condition,
    piece: TextHas,
    descending: bool,
    after: Sequence[Any] | None,
    limit: int,
) -> list[tuple[Entry, tuple[Any, ...]]]:
    """SQLite: a page in id order, walking the text index's matches of `piece` (a
    condition every match passes) in rowid order, which is id order; an entry whose
    text matches in several fields comes once."""
    low, high = probes.text_rows_of(directory_id)
    if after is not None:
        entry_row = t.entry_row_key(directory_id, int(after[0]))
        if descending:
            high = texts.text_row(entry_row, 0)
        else:
            low = texts.text_row(entry_row, texts.MAX_FIELD_ID) + 1
    others = [c for c in probes.distinct(probes.required(condition)) if c != piece]
    read = _text_matches(connection, directory_id, piece, others, descending)
    found: dict[int, Entry] = {}
    while True:
        asked = 2 * (limit - len(found)) + 1  # an entry may match in several fields
        rows = read(low, high, asked)
        for r in rows:
            found.setdefault(r[0] >> texts.FIELD_BITS, entry_from_row(r[1:]))
        if len(found) >= limit or len(rows) < asked:
            break
        last = rows[-1][0] >> texts.FIELD_BITS  # every match of it is found: past it
        if descending:
            high = texts.text_row(last, 0)
        else:
            low = texts.text_row(last, texts.MAX_FIELD_ID) + 1
    entries = list(found.values())[:limit]
    return [(entry, (entry.id,)) for entry in entries]


def _text_matches(
    connection: sa.Connection,
    directory_id: int,
    piece: TextHas,
    others: list[Condition],
    descending: bool,
) -> Callable[[int, int, int], Sequence[Sequence[Any]]]:
    """How `_in_text_order` reads (rowid, entry columns...) of up to n matches of `piece`
    holding `others`, with rowids from `low` and below `high`: on the driver when
    `text_page` writes the conditions (the searches people type), else built here."""
    statement = text_page.page_statement(piece, others, descending=descending)
    if statement is not None:
        sql, params = statement

        def on_driver(low: int, high: int, n: int) -> Sequence[Sequence[Any]]:
            rows = driver.execute(connection, sql, (*params, low, high, n))
            return [(row[0], *driver.decoded_entry_row(row[1:])) for row in rows]

        return on_driver
    x = SQLITE_TEXTS.alias("x")
    row = x.c.rowid
    query = (
        sa.select(row, *COLUMNS)
        .select_from(x.join(t.entries, _E.pk == row.op(">>")(texts.FIELD_BITS)))
        .where(x.c.text.op("MATCH")(texts.phrase(piece.piece, at_start=piece.at_start)))
        .where(row.op("&")(texts.MAX_FIELD_ID).in_(piece.field_ids))
        .where(*(probes.where(c, "sqlite", directory_id) for c in others))
        .order_by(row.desc() if descending else row.asc())
    )

    def built(low: int, high: int, n: int) -> Sequence[Sequence[Any]]:
        return connection.execute(query.where(row >= low, row < high).limit(n)).all()

    return built


def _indexed_piece(connection: sa.Connection, condition: Condition | None) -> TextHas | None:
    """SQLite: a piece of text every match holds that the text index can find (the
    longest, if several: likely the rarest)."""
    if condition is None or connection.dialect.name != "sqlite":
        return None
    pieces = [c for c in probes.required(condition) if probes.indexable(c)]
    # At the start of a text, a piece is held by fewer texts than the same piece anywhere.
    return max(pieces, key=lambda c: (len(c.piece), c.at_start)) if pieces else None


def _sieved(connection: sa.Connection, condition: Condition | None) -> Condition | None:
    """SQLite: `condition`, each prefix it requires also asked of the text index (as the
    start of a text, in search form: a superset), which lists its holders in id order
    and so finds a page of a common prefix without walking the directory. PostgreSQL
    reads the value index's range, as its planner chooses."""
    if condition is None or connection.dialect.name != "sqlite":
        return condition
    prefixes = [c for c in probes.required(condition) if isinstance(c, KeyPrefix)]
    if not prefixes:
        return condition
    sieves = [TextHas((p.field_id,), search_form(p.prefix), at_start=True) for p in prefixes]
    return Both((*sieves, condition))


def _by_id(sort: Sequence[SortKey]) -> bool:
    return len(sort) == 1 and sort[0].field is None and sort[0].column == "number"


def _one_key(connection: sa.Connection, condition: Condition | None) -> KeysIn | None:
    """A one-key lookup every match must pass (the one held by fewest, if several)."""
    if condition is None:
        return None
    candidates = [
        c for c in probes.required(condition) if isinstance(c, KeysIn) and len(c.keys) == 1
    ]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    return min(candidates, key=lambda c: drive.count_key_holders(connection, c, DRIVE_MAX))


def count(connection: sa.Connection, directory_id: int, condition: Condition | None) -> int:
    condition = _sieved(connection, condition)
    _plan_for_the_values(connection, condition)
    query = sa.select(sa.func.count()).select_from(t.entries)
    return int(
        connection.execute(
            query.where(*drive.filters(connection, directory_id, condition, None)[0])
        ).scalar_one()
    )


# The two probes below run on the driver: through SQLAlchemy's query
# building and execution they cost more than the index reads they make.


def _sort_columns(
    sort: Sequence[SortKey],
) -> tuple[list[sa.ColumnElement[Any]], sa.FromClause]:
    joins: sa.FromClause = t.entries
    columns: list[sa.ColumnElement[Any]] = []
    for index, key in enumerate(sort):
        if key.field is None:
            assert key.column is not None
            columns.append(getattr(_E, key.column))
            continue
        alias = _V.alias(f"sort_{index}")
        joins = joins.outerjoin(
            alias, sa.and_(alias.c.entry_pk == _E.pk, alias.c.field_id == key.field.id)
        )
        # An empty value sorts as the smallest: no key is ever "".
        columns.append(sa.func.coalesce(alias.c.key, "").label(f"sort_{index}"))
    return columns, joins


def _after(
    positions: Sequence[sa.ColumnElement[Any]], sort: Sequence[SortKey], after: Sequence[Any]
) -> sa.ColumnElement[bool]:
    """Strictly after `after` in the order: the first differing key decides."""
    alternatives = []
    for index, (position, key) in enumerate(zip(positions, sort, strict=True)):
        ties = [p == v for p, v in zip(positions[:index], after[:index], strict=True)]
        beyond = position < after[index] if key.descending else position > after[index]
        alternatives.append(sa.and_(*ties, beyond))
    return sa.or_(*alternatives)
