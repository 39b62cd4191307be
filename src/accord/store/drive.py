"""Which side drives a page: the directory walked in order, each entry probed, or the
few holders of one condition read from an index first.

PostgreSQL's planner knows from its statistics, but for pieces of text; SQLite has
none. So `drive_key` asks the index how many entries a key, a prefix or a piece holds
(a capped count) and, when few, the query starts from them (`filters`).

"Few" depends on the page: walking the directory in id order costs about `limit` x
(entries / holders) probes, starting from the holders about one row each (then a sort),
so the holders lead while holders^2 < limit x entries: under about 7,000 holders for a
page of 50 at a million companies (a fixed 2,000 walked 25,000 entries a page for a
value held by 2,000 of them).
"""

import math
from dataclasses import dataclass
from typing import TypeGuard

import sqlalchemy as sa

from accord.domain.query import Condition, KeyPrefix, KeysIn, TextHas
from accord.store import driver, probes, texts
from accord.store import tables as t
from accord.store.probes import PLANNED_PROBES, SQLITE_TEXTS

_E = t.entries.c
_V = t.entry_values
DRIVE_MAX = 20_000
"""SQLite counts a key's holders up to this many (a covering index scan of about 2 ms)."""


@dataclass(frozen=True, slots=True)
class First:
    """A page in id order: the first `limit` entries after the row key `after` (None:
    from the first, or the last if `descending`)."""

    after: int | None
    descending: bool
    limit: int


def filters(
    connection: sa.Connection,
    directory_id: int,
    condition: Condition | None,
    limit: int | None,
    first: First | None = None,
) -> tuple[list[sa.ColumnElement[bool]], bool]:
    """The WHERE of a page of `limit` entries (None: of a count), and whether it starts
    from the holders of one condition. `first`: the page is in id order."""
    if condition is None:
        return [_E.directory_id == directory_id], False
    dialect = connection.dialect.name
    leading = drive_key(connection, directory_id, condition, limit)
    required = probes.distinct(probes.required(condition))
    if leading is None:
        planned = probes.planned(required, dialect, PLANNED_PROBES)
        where = [
            _E.directory_id == directory_id,
            *(probes.where(c, dialect, directory_id, planned) for c in required),
        ]
        return where, False
    # `+ 0` keeps SQLite off the directory index, so the few matching entries lead.
    # The holders pass the driving condition by construction: probing it again for each
    # of them doubled the cost of a page (8.3 -> 3.7 ms for 2,000 holders at a million).
    rest = [c for c in required if c != leading]
    planned = probes.planned(rest, dialect, PLANNED_PROBES)
    holders = holders_of(directory_id, leading, dialect)
    if first is not None and not rest:
        holders = _first_holders(holders, first)
    # (PostgreSQL has statistics: there it needs no `+ 0`, and planned a full scan with it.)
    return [
        (_E.directory_id + 0) == directory_id
        if dialect == "sqlite"
        else _E.directory_id == directory_id,
        _E.pk.in_(holders),
        *(probes.where(c, dialect, directory_id, planned) for c in rest),
    ], True


def _first_holders(holders: sa.Select[tuple[int]], first: First) -> sa.Select[tuple[int]]:
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


def drive_key(
    connection: sa.Connection, directory_id: int, condition: Condition, limit: int | None
) -> Drivable | None:
    """The most selective condition every match must pass whose holders an index lists,
    if it holds few entries."""
    dialect = connection.dialect.name
    candidates = [c for c in probes.required(condition) if _drivable(c, dialect)]
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
    return isinstance(condition, KeyPrefix) or probes.indexable(condition)


def holders_of(directory_id: int, condition: Drivable, dialect: str) -> sa.Select[tuple[int]]:
    """The row keys of the entries that hold `condition`, as an index lists them (with
    repeats, for a piece of text found in several fields)."""
    if isinstance(condition, KeysIn):
        return sa.select(_V.c.entry_pk).where(
            _V.c.field_id == condition.field_id, _V.c.key.in_(condition.keys)
        )
    if isinstance(condition, KeyPrefix):
        return sa.select(_V.c.entry_pk).where(
            _V.c.field_id == condition.field_id, *probes.prefix(_V.c.key, condition.prefix)
        )
    if dialect != "sqlite":
        x = t.entry_texts.c
        return sa.select(x.entry_pk).where(
            *probes.in_partition(x.entry_pk, directory_id),
            x.field_id.in_(condition.field_ids),
            *probes.texts_like(x.text, condition),
        )
    low, high = probes.text_rows_of(directory_id)
    row = SQLITE_TEXTS.c.rowid
    return sa.select(row.op(">>")(texts.FIELD_BITS)).where(
        SQLITE_TEXTS.c.text.op("MATCH")(texts.phrase(condition.piece, at_start=condition.at_start)),
        row >= low,
        row < high,
        row.op("&")(texts.MAX_FIELD_ID).in_(condition.field_ids),
    )


def _count_holders(
    connection: sa.Connection, directory_id: int, condition: Drivable, cap: int
) -> int:
    if isinstance(condition, KeysIn):
        return count_key_holders(connection, condition, cap)
    dialect = connection.dialect.name
    held = holders_of(directory_id, condition, dialect).limit(cap).subquery()
    return int(connection.execute(sa.select(sa.func.count()).select_from(held)).scalar_one())


def count_key_holders(connection: sa.Connection, keys: KeysIn, cap: int) -> int:
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
    return max(100, math.isqrt(limit * last_number(connection, directory_id)))


def last_number(connection: sa.Connection, directory_id: int) -> int:
    """The directory's largest id in use (0: it has no entry)."""
    sql = f"SELECT max(number) FROM entries WHERE directory_id = {driver.placeholder(connection)}"
    ((last,),) = driver.execute(connection, sql, [directory_id])
    return int(last or 0)
