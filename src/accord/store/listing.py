"""Pages of entries: a bound condition, an order and a position, compiled to one query.

Conditions test the value index (pieces of text: the text index, `store.texts`) with
correlated EXISTS probes, which every database runs as index lookups. Which side drives
the plan matters at a million entries: walking the directory in order and probing each
entry finds a page fast when matches are many, and starting from the index wins when
they are few. PostgreSQL's planner knows from its statistics, but for pieces of text;
SQLite has none. So there `_drive_key` asks the index how many entries a key, a prefix
or a piece holds (a capped count) and, when few, makes the query start from them.

"Few" depends on the page: walking the directory in id order costs about `limit` x
(entries / holders) probes, starting from the holders about one row each (then a sort),
so the holders lead while holders^2 < limit x entries: under about 7,000 holders for a
page of 50 at a million companies (a fixed 2,000 walked 25,000 entries a page for a
value held by 2,000 of them).

The commonest page needs neither: in id order (the default), filtered on one value of
a field. The value index lists a value's holders by row key, which is id order
(`tables.entry_row_key`), so such a page reads the index in order from the cursor and
stops after `limit` matches, however many entries hold the value (`_in_index_order`).

PostgreSQL plans a correlated EXISTS that every match passes as a semi-join (a NOT
EXISTS as an anti-join) and searches the orders of all of them: planning time grows
much faster than their number (80 conditions 0.5 s, 200 over 10 s, 1,000 for minutes).
So only the first `PLANNED_PROBES` such conditions are left to it; every other probe is
written `(EXISTS ...) IS TRUE`, which it never turns into a join: each is planned on its
own (linear) and tests the candidates the planned ones leave, one index lookup each.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import sqlalchemy as sa

from accord.domain.entries import Entry
from accord.domain.query import (
    Both,
    ColumnIs,
    Condition,
    Either,
    HasValue,
    KeyPrefix,
    KeyRange,
    KeysIn,
    Negate,
    SortKey,
    TextContains,
    TextHas,
)
from accord.domain.text import search_form
from accord.store import driver, text_page, texts
from accord.store import tables as t
from accord.store.entries import COLUMNS, entry_from_row

DRIVE_MAX = 20_000
"""SQLite counts a key's holders up to this many (a covering index scan of about 2 ms)."""
WINDOW_PER_ROW = 32
"""PostgreSQL tests this many ids a row of a page before it counts a piece's holders
(`_window`): a piece held by one entry in 32 or more fills the page there."""
WINDOW_MIN = 256
PLANNED_PROBES = 4
"""Probes of the value index that PostgreSQL may plan as joins (4: planned in about 3 ms;
8 took 20 ms, and each one more doubles it)."""

_E = t.entries.c
_V = t.entry_values
_X = sa.table("entry_texts", sa.column("rowid", sa.BigInteger), sa.column("text", sa.Text))
"""SQLite's text index (an FTS5 table: `store.texts`); PostgreSQL's is `t.entry_texts`."""
_OPS = {
    "eq": "__eq__",
    "ne": "__ne__",
    "lt": "__lt__",
    "le": "__le__",
    "gt": "__gt__",
    "ge": "__ge__",
}
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
    last = _last_number(connection, directory_id)
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
        first = _First(row, sort[0].descending, limit)
    where, driven = _filters(connection, directory_id, condition, limit, first)
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
        and any(isinstance(c, TextHas | KeyPrefix) for c in _required(condition))
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
        _where(c, "postgresql", directory_id, frozenset()) for c in _distinct(_required(condition))
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
    others = [c for c in _distinct(_required(condition)) if c != key]
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
    planned = _planned(others, dialect, PLANNED_PROBES - 1)
    rest = [_where(c, dialect, directory_id, planned) for c in others]
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
    low, high = _text_rows_of(directory_id)
    if after is not None:
        entry_row = t.entry_row_key(directory_id, int(after[0]))
        if descending:
            high = texts.text_row(entry_row, 0)
        else:
            low = texts.text_row(entry_row, texts.MAX_FIELD_ID) + 1
    others = [c for c in _distinct(_required(condition)) if c != piece]
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
    x = _X.alias("x")
    row = x.c.rowid
    query = (
        sa.select(row, *COLUMNS)
        .select_from(x.join(t.entries, _E.pk == row.op(">>")(texts.FIELD_BITS)))
        .where(x.c.text.op("MATCH")(texts.phrase(piece.piece, at_start=piece.at_start)))
        .where(row.op("&")(texts.MAX_FIELD_ID).in_(piece.field_ids))
        .where(*(_where(c, "sqlite", directory_id) for c in others))
        .order_by(row.desc() if descending else row.asc())
    )

    def built(low: int, high: int, n: int) -> Sequence[Sequence[Any]]:
        return connection.execute(query.where(row >= low, row < high).limit(n)).all()

    return built


def _text_rows_of(directory_id: int) -> tuple[int, int]:
    """The text index's rowids of a directory's entries: from the first, up to the last."""
    return (
        texts.text_row(t.entry_row_key(directory_id, 0), 0),
        texts.text_row(t.entry_row_key(directory_id + 1, 0), 0),
    )


def _indexed_piece(connection: sa.Connection, condition: Condition | None) -> TextHas | None:
    """SQLite: a piece of text every match holds that the text index can find (the
    longest, if several: likely the rarest)."""
    if condition is None or connection.dialect.name != "sqlite":
        return None
    pieces = [c for c in _required(condition) if _indexable(c)]
    # At the start of a text, a piece is held by fewer texts than the same piece anywhere.
    return max(pieces, key=lambda c: (len(c.piece), c.at_start)) if pieces else None


def _indexable(condition: Condition) -> TypeGuard[TextHas]:
    """SQLite: a piece of text its text index finds (3 characters or more, the start
    mark of a piece at the start of a text included)."""
    return (
        isinstance(condition, TextHas)
        and bool(condition.field_ids)
        and len(texts.sqlite_piece(condition.piece, at_start=condition.at_start))
        >= texts.MIN_INDEXED
    )


def _sieved(connection: sa.Connection, condition: Condition | None) -> Condition | None:
    """SQLite: `condition`, each prefix it requires also asked of the text index (as the
    start of a text, in search form: a superset), which lists its holders in id order
    and so finds a page of a common prefix without walking the directory. PostgreSQL
    reads the value index's range, as its planner chooses."""
    if condition is None or connection.dialect.name != "sqlite":
        return condition
    prefixes = [c for c in _required(condition) if isinstance(c, KeyPrefix)]
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
    candidates = [c for c in _required(condition) if isinstance(c, KeysIn) and len(c.keys) == 1]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    return min(candidates, key=lambda c: _holders(connection, c, DRIVE_MAX))


def count(connection: sa.Connection, directory_id: int, condition: Condition | None) -> int:
    condition = _sieved(connection, condition)
    _plan_for_the_values(connection, condition)
    query = sa.select(sa.func.count()).select_from(t.entries)
    return int(
        connection.execute(
            query.where(*_filters(connection, directory_id, condition, None)[0])
        ).scalar_one()
    )


@dataclass(frozen=True, slots=True)
class _First:
    """A page in id order: the first `limit` entries after the row key `after` (None:
    from the first, or the last if `descending`)."""

    after: int | None
    descending: bool
    limit: int


def _filters(
    connection: sa.Connection,
    directory_id: int,
    condition: Condition | None,
    limit: int | None,
    first: _First | None = None,
) -> tuple[list[sa.ColumnElement[bool]], bool]:
    """The WHERE of a page of `limit` entries (None: of a count), and whether it starts
    from the holders of one condition. `first`: the page is in id order."""
    if condition is None:
        return [_E.directory_id == directory_id], False
    dialect = connection.dialect.name
    leading = _drive_key(connection, directory_id, condition, limit)
    required = _distinct(_required(condition))
    if leading is None:
        planned = _planned(required, dialect, PLANNED_PROBES)
        where = [
            _E.directory_id == directory_id,
            *(_where(c, dialect, directory_id, planned) for c in required),
        ]
        return where, False
    # `+ 0` keeps SQLite off the directory index, so the few matching entries lead.
    # The holders pass the driving condition by construction: probing it again for each
    # of them doubled the cost of a page (8.3 -> 3.7 ms for 2,000 holders at a million).
    rest = [c for c in required if c != leading]
    planned = _planned(rest, dialect, PLANNED_PROBES)
    holders = _holders_of(directory_id, leading, dialect)
    if first is not None and not rest:
        holders = _first_holders(holders, first)
    # (PostgreSQL has statistics: there it needs no `+ 0`, and planned a full scan with it.)
    return [
        (_E.directory_id + 0) == directory_id
        if dialect == "sqlite"
        else _E.directory_id == directory_id,
        _E.pk.in_(holders),
        *(_where(c, dialect, directory_id, planned) for c in rest),
    ], True


def _first_holders(holders: sa.Select[tuple[int]], first: _First) -> sa.Select[tuple[int]]:
    """The page's holders alone, when they need no other test: the first of them in row
    key order, which is id order. Read from the index, where all of them were read as
    entries, then sorted (2,600 contacts whose names start with "anna kowal": 20 ms)."""
    held = holders.subquery("held")
    row = held.c[0]
    query = sa.select(row).distinct()
    if first.after is not None:
        query = query.where(row < first.after if first.descending else row > first.after)
    return query.order_by(row.desc() if first.descending else row.asc()).limit(first.limit)


Drivable = KeysIn | KeyPrefix | TextHas
"""A condition whose holders an index lists, so a query may start from them (`_drivable`:
which, on each database)."""


def _drive_key(
    connection: sa.Connection, directory_id: int, condition: Condition, limit: int | None
) -> Drivable | None:
    """The most selective condition every match must pass whose holders an index lists,
    if it holds few entries."""
    dialect = connection.dialect.name
    candidates = [c for c in _required(condition) if _drivable(c, dialect)]
    if not candidates:
        return None
    few = (
        DRIVE_MAX
        if limit is None
        else min(DRIVE_MAX, _walk_break_even(connection, directory_id, limit))
    )
    best: tuple[int, Drivable] | None = None
    # Those a b-tree counts first: one of them that is few leads, uncounted the others
    # (a trigram index reads every holder of a piece to count it: 40 ms for a surname).
    for candidate in sorted(candidates, key=lambda c: not _counted_by_b_tree(c)):
        size = _count_holders(connection, directory_id, candidate, few)
        if size < few and (best is None or size < best[0]):
            best = (size, candidate)
            if _counted_by_b_tree(candidate):
                break
    return None if best is None else best[1]


def _counted_by_b_tree(condition: Drivable) -> bool:
    """Whether the holders of `condition` are counted from a b-tree, which stops at the
    cap: keys and prefixes of a value, and on PostgreSQL the start of a text."""
    if isinstance(condition, TextHas):
        return condition.at_start and len(condition.piece) <= texts.START_CHARS
    return True


def _drivable(condition: Condition, dialect: str) -> TypeGuard[Drivable]:
    """Whether a query may start from the holders of `condition`, if they are few.

    PostgreSQL's planner chooses for the value index, from its statistics. For a piece
    of text it cannot: it guessed 93 texts held a surname that 24,988 held, and walked
    all 200,000 companies, testing each, for a word none of them holds (317 ms). So
    there the count decides too, for the pieces its trigram index finds, and for
    prefixes: the names that start with a surname (the first rank of a `q`) are none,
    and the planner walked a million contacts looking for them (seconds)."""
    if dialect != "sqlite":
        return isinstance(condition, KeyPrefix) or (
            isinstance(condition, TextHas)
            and bool(condition.field_ids)
            and len(condition.piece) >= texts.MIN_INDEXED
        )
    if isinstance(condition, KeysIn):
        return bool(condition.keys)
    return isinstance(condition, KeyPrefix) or _indexable(condition)


def _holders_of(directory_id: int, condition: Drivable, dialect: str) -> sa.Select[tuple[int]]:
    """The row keys of the entries that hold `condition`, as an index lists them (with
    repeats, for a piece of text found in several fields)."""
    if isinstance(condition, KeysIn):
        return sa.select(_V.c.entry_pk).where(
            _V.c.field_id == condition.field_id, _V.c.key.in_(condition.keys)
        )
    if isinstance(condition, KeyPrefix):
        return sa.select(_V.c.entry_pk).where(
            _V.c.field_id == condition.field_id, *_prefix(_V.c.key, condition.prefix)
        )
    if dialect != "sqlite":
        x = t.entry_texts.c
        return sa.select(x.entry_pk).where(
            *_in_partition(x.entry_pk, directory_id),
            x.field_id.in_(condition.field_ids),
            *_texts_like(x.text, condition),
        )
    low, high = _text_rows_of(directory_id)
    row = _X.c.rowid
    return sa.select(row.op(">>")(texts.FIELD_BITS)).where(
        _X.c.text.op("MATCH")(texts.phrase(condition.piece, at_start=condition.at_start)),
        row >= low,
        row < high,
        row.op("&")(texts.MAX_FIELD_ID).in_(condition.field_ids),
    )


def _count_holders(
    connection: sa.Connection, directory_id: int, condition: Drivable, cap: int
) -> int:
    if isinstance(condition, KeysIn):
        return _holders(connection, condition, cap)
    dialect = connection.dialect.name
    held = _holders_of(directory_id, condition, dialect).limit(cap).subquery()
    return int(connection.execute(sa.select(sa.func.count()).select_from(held)).scalar_one())


# The two probes below run on the driver: through SQLAlchemy's query
# building and execution they cost more than the index reads they make.


def _holders(connection: sa.Connection, keys: KeysIn, cap: int) -> int:
    """How many entries hold one of the keys, counted up to `cap`."""
    p = driver.placeholder(connection)
    marks = ", ".join([p] * len(keys.keys))
    sql = (
        "SELECT count(*) FROM (SELECT 1 FROM entry_values "
        f"WHERE field_id = {p} AND key IN ({marks}) LIMIT {p}) AS held"
    )
    ((size,),) = driver.execute(connection, sql, [keys.field_id, *keys.keys, cap])
    return int(size)


def _walk_break_even(connection: sa.Connection, directory_id: int, limit: int) -> int:
    """Holders below which starting from them beats walking the directory for a page."""
    return max(100, math.isqrt(limit * _last_number(connection, directory_id)))


def _last_number(connection: sa.Connection, directory_id: int) -> int:
    """The directory's largest id in use (0: it has no entry)."""
    sql = f"SELECT max(number) FROM entries WHERE directory_id = {driver.placeholder(connection)}"
    ((last,),) = driver.execute(connection, sql, [directory_id])
    return int(last or 0)


def _required(condition: Condition) -> list[Condition]:
    """The conditions every match satisfies (the top level of an AND)."""
    if isinstance(condition, Both):
        return [c for item in condition.items for c in _required(item)]
    return [condition]


def _distinct(conditions: list[Condition]) -> list[Condition]:
    """The conditions without repeats (`a and a` is `a`), in order."""
    return list(dict.fromkeys(conditions))


_PROBES = (KeysIn, KeyRange, KeyPrefix, TextHas, HasValue)


def _planned(required: list[Condition], dialect: str, room: int) -> frozenset[Condition] | None:
    """Which of the required conditions PostgreSQL may plan as joins: the first `room`
    probes, one-key lookups first (likeliest to be selective). None: any (SQLite, which
    tests every probe per candidate anyway and plans each on its own)."""
    if dialect != "postgresql":
        return None
    # Not a negated piece of text (`q`'s second rank: the name does not start with it):
    # as an anti-join, PostgreSQL read every entry to leave out the few that do.
    probes = [
        c
        for c in required
        if isinstance(c, _PROBES)
        or (
            isinstance(c, Negate)
            and isinstance(c.item, _PROBES)
            and not isinstance(c.item, TextHas)
        )
    ]
    probes.sort(key=lambda c: not (isinstance(c, KeysIn) and len(c.keys) == 1))
    return frozenset(probes[: max(room, 0)])


def _where(
    condition: Condition,
    dialect: str,
    directory_id: int,
    planned: frozenset[Condition] | None = None,
) -> sa.ColumnElement[bool]:
    """`condition` in SQL; with `planned` (PostgreSQL), every probe of the value index but
    those (top-level ones) is kept from becoming a join (module docstring)."""
    if planned is not None and condition in planned:
        planned = None
    if isinstance(condition, Both):
        return sa.and_(*(_where(item, dialect, directory_id, planned) for item in condition.items))
    if isinstance(condition, Either):
        return sa.or_(*(_where(item, dialect, directory_id, planned) for item in condition.items))
    if isinstance(condition, Negate):
        return sa.not_(_where(condition.item, dialect, directory_id, planned))
    if isinstance(condition, ColumnIs):
        return _column(condition)
    if isinstance(condition, TextContains):
        return _text_contains(condition, dialect)
    if planned is None:
        return _holds(condition, dialect, directory_id)
    # `IS TRUE`: a test PostgreSQL evaluates per row, never a sublink it pulls up; and
    # `OFFSET 0` in it, so that it never hashes the probe's rows of every entry either
    # (it did: all the texts that hold a piece, read to test a window of 672 entries).
    return _holds(condition, dialect, directory_id, fenced=True).is_(sa.true())


def _holds(
    condition: KeysIn | KeyRange | KeyPrefix | TextHas | HasValue,
    dialect: str,
    directory_id: int,
    *,
    fenced: bool = False,
) -> sa.ColumnElement[bool]:
    """EXISTS a value-index row of this entry that satisfies the condition (a piece of
    text: a row of the text index).

    On SQLite the probe reads the entry's own values (the index on `entry_pk`): the
    field is written `field_id + 0`, which no index can serve. Left to itself, SQLite
    answered `field_id IN (?)` (an icontains), a prefix or a range through the primary
    key, reading every value of the field that passes for each entry it tested (1.6 s a
    page at 5,000 contacts, quadratic in the directory), whether analysed or not."""
    if isinstance(condition, TextHas):
        return _text_probe(condition, dialect, directory_id, fenced)
    v = _V.c
    field = v.field_id + 0 if dialect == "sqlite" else v.field_id
    if isinstance(condition, KeysIn):
        if not condition.keys:
            return sa.false()
        test = sa.and_(field == condition.field_id, v.key.in_(condition.keys))
    elif isinstance(condition, KeyRange):
        test = sa.and_(
            field == condition.field_id, getattr(v.key, _OPS[condition.op])(condition.key)
        )
    elif isinstance(condition, KeyPrefix):
        test = sa.and_(field == condition.field_id, *_prefix(v.key, condition.prefix))
    else:
        test = field == condition.field_id
    return _exists(fenced, v.entry_pk == _E.pk, test)


def _exists(fenced: bool, *tests: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """EXISTS a row passing `tests`; `fenced`: with `OFFSET 0`, which keeps PostgreSQL
    from turning it into a join or a hashed subplan (it stays a probe per row)."""
    rows = sa.select(sa.literal(1)).where(*tests)
    return sa.exists(rows.offset(0) if fenced else rows)


def _prefix(key: sa.ColumnElement[str], prefix: str) -> list[sa.ColumnElement[bool]]:
    return [key >= prefix, key < prefix + text_page.TOP]


def _text_probe(
    condition: TextHas, dialect: str, directory_id: int, fenced: bool
) -> sa.ColumnElement[bool]:
    """EXISTS a text of this entry, of one of the fields, that holds the piece: the
    entry's own rows of the text index, read by key and tested."""
    if not condition.field_ids:
        return sa.false()
    piece = condition.piece
    if dialect == "sqlite":
        x = _X.alias("x")
        first = _E.pk.op("<<")(texts.FIELD_BITS)
        if len(condition.field_ids) == 1:
            rows = [x.c.rowid == first + condition.field_ids[0]]
        else:
            rows = [
                x.c.rowid.between(first, first + texts.MAX_FIELD_ID),
                x.c.rowid.op("&")(texts.MAX_FIELD_ID).in_(condition.field_ids),
            ]
        at = sa.func.instr(x.c.text, texts.sqlite_piece(piece, at_start=condition.at_start))
        found = at == 1 if condition.at_start else at > 0
        return _exists(fenced, *rows, found)
    p = t.entry_texts.alias("x")
    return _exists(
        fenced,
        p.c.entry_pk == _E.pk,
        *_in_partition(p.c.entry_pk, directory_id),
        p.c.field_id.in_(condition.field_ids),
        *_texts_like(p.c.text, condition),
    )


def _in_partition(row: sa.ColumnElement[int], directory_id: int) -> list[sa.ColumnElement[bool]]:
    """PostgreSQL: the bounds of the directory's partition of the text index (`texts`),
    so that only its indexes are read. Written as constants, not parameters: a plan of
    a prepared statement made for any parameters (PostgreSQL's generic plan, chosen after
    a few runs) read a whole partition in key order for a piece held by 20 texts (300 ms
    against 7), where the constants prune the others and bound nothing within."""
    low, high = texts.row_keys_of(directory_id)
    return [row >= sa.literal_column(str(low)), row < sa.literal_column(str(high))]


def _texts_like(text: sa.ColumnElement[str], condition: TextHas) -> list[sa.ColumnElement[bool]]:
    """PostgreSQL: the texts that hold the piece, as LIKE tests: its trigram index serves
    the first; for a piece at the start, the second is what the b-tree of each text's
    start serves (`texts.START_CHARS`; LIKE's own escape is the backslash: an explicit
    ESCAPE would hide the pattern's fixed start from the planner)."""
    pattern = texts.like_pattern(condition.piece, at_start=condition.at_start)
    tests: list[sa.ColumnElement[bool]] = [text.like(pattern, escape="\\")]
    if condition.at_start and len(condition.piece) <= texts.START_CHARS:
        tests.append(sa.func.left(text, texts.START_CHARS).like(pattern))
    return tests


def _column(condition: ColumnIs) -> sa.ColumnElement[bool]:
    column: sa.Column[Any] = getattr(_E, condition.column)
    if condition.op == "in":
        return column.in_(condition.values)
    compared: sa.ColumnElement[bool] = getattr(column, _OPS[condition.op])(condition.values[0])
    return compared


def _text_contains(condition: TextContains, dialect: str) -> sa.ColumnElement[bool]:
    text = _E.data[condition.code].as_string()
    # instr() and strpos() compare exactly (LIKE ignores ASCII case on SQLite).
    position = sa.func.strpos if dialect == "postgresql" else sa.func.instr
    return sa.func.coalesce(position(text, condition.needle), 0) > 0


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
