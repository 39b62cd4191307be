"""Pages of entries: a bound condition, an order and a position, compiled to one query.

Conditions test the value index with correlated EXISTS probes, which every database
runs as index lookups. Which side drives the plan matters at a million entries: walking
the directory in order and probing each entry finds a page fast when matches are many,
and starting from the value index wins when they are few. PostgreSQL's planner knows
from its statistics; SQLite has none, so `_drive_key` asks the index how many entries a
key holds (a capped count) and, when few, makes the query start from them.

"Few" depends on the page: walking the directory in id order costs about `limit` x
(entries / holders) probes, starting from the holders about one row each (then a sort),
so the holders lead while holders^2 < limit x entries: under about 7,000 holders for a
page of 50 at a million companies (a fixed 2,000 walked 25,000 entries a page for a
value held by 2,000 of them).
"""

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from accord.domain.entries import Entry
from accord.domain.query import (
    Both,
    ColumnIs,
    Condition,
    Either,
    HasValue,
    KeyContains,
    KeyPrefix,
    KeyRange,
    KeysIn,
    Negate,
    SortKey,
    TextContains,
)
from accord.store import tables as t
from accord.store.entries import COLUMNS, entry_from_row

DRIVE_MAX = 20_000
"""SQLite counts a key's holders up to this many (a covering index scan of about 2 ms)."""

_E = t.entries.c
_V = t.entry_values
_OPS = {
    "eq": "__eq__",
    "ne": "__ne__",
    "lt": "__lt__",
    "le": "__le__",
    "gt": "__gt__",
    "ge": "__ge__",
}
_TOP = "\U0010ffff"


def page(
    connection: sa.Connection,
    directory_id: int,
    condition: Condition | None,
    sort: Sequence[SortKey],
    after: Sequence[Any] | None,
    limit: int,
) -> list[tuple[Entry, tuple[Any, ...]]]:
    """Up to `limit` entries after position `after`, each with its position."""
    positions, joins = _sort_columns(sort)
    query = sa.select(*COLUMNS, *positions).select_from(joins)
    query = query.where(*_filters(connection, directory_id, condition, limit))
    if after is not None:
        query = query.where(_after(positions, sort, after))
    order = [
        p.desc() if key.descending else p.asc() for p, key in zip(positions, sort, strict=True)
    ]
    rows = connection.execute(query.order_by(*order).limit(limit)).all()
    width = len(COLUMNS)
    return [(entry_from_row(row[:width]), tuple(row[width:])) for row in rows]


def count(connection: sa.Connection, directory_id: int, condition: Condition | None) -> int:
    query = sa.select(sa.func.count()).select_from(t.entries)
    return int(
        connection.execute(
            query.where(*_filters(connection, directory_id, condition, None))
        ).scalar_one()
    )


def _filters(
    connection: sa.Connection, directory_id: int, condition: Condition | None, limit: int | None
) -> list[sa.ColumnElement[bool]]:
    """The WHERE of a page of `limit` entries (None: of a count)."""
    if condition is None:
        return [_E.directory_id == directory_id]
    dialect = connection.dialect.name
    where = [_where(condition, dialect)]
    driver = _drive_key(connection, directory_id, condition, limit) if dialect == "sqlite" else None
    if driver is None:
        return [_E.directory_id == directory_id, *where]
    # `+ 0` keeps SQLite off the directory index, so the few matching entries lead.
    holders = sa.select(_V.c.entry_pk).where(
        _V.c.field_id == driver.field_id, _V.c.key.in_(driver.keys)
    )
    return [(_E.directory_id + 0) == directory_id, _E.pk.in_(holders), *where]


def _drive_key(
    connection: sa.Connection, directory_id: int, condition: Condition, limit: int | None
) -> KeysIn | None:
    """The most selective key lookup every match must pass, if it holds few entries."""
    candidates = [c for c in _required(condition) if isinstance(c, KeysIn) and c.keys]
    if not candidates:
        return None
    few = (
        DRIVE_MAX
        if limit is None
        else min(DRIVE_MAX, _walk_break_even(connection, directory_id, limit))
    )
    best: tuple[int, KeysIn] | None = None
    for candidate in candidates:
        held = (
            sa.select(_V.c.entry_pk)
            .where(_V.c.field_id == candidate.field_id, _V.c.key.in_(candidate.keys))
            .limit(few)
        )
        size = connection.execute(
            sa.select(sa.func.count()).select_from(held.subquery())
        ).scalar_one()
        if size < few and (best is None or size < best[0]):
            best = (size, candidate)
    return None if best is None else best[1]


def _walk_break_even(connection: sa.Connection, directory_id: int, limit: int) -> int:
    """Holders below which starting from them beats walking the directory for a page."""
    entries = connection.execute(
        sa.select(sa.func.max(_E.number)).where(_E.directory_id == directory_id)
    ).scalar_one()
    return max(100, math.isqrt(limit * (entries or 0)))


def _required(condition: Condition) -> list[Condition]:
    """The conditions every match satisfies (the top level of an AND)."""
    if isinstance(condition, Both):
        return [c for item in condition.items for c in _required(item)]
    return [condition]


def _where(condition: Condition, dialect: str) -> sa.ColumnElement[bool]:
    if isinstance(condition, Both):
        return sa.and_(*(_where(item, dialect) for item in condition.items))
    if isinstance(condition, Either):
        return sa.or_(*(_where(item, dialect) for item in condition.items))
    if isinstance(condition, Negate):
        return sa.not_(_where(condition.item, dialect))
    if isinstance(condition, ColumnIs):
        return _column(condition)
    if isinstance(condition, TextContains):
        return _text_contains(condition, dialect)
    return _holds(condition)


def _holds(
    condition: KeysIn | KeyRange | KeyPrefix | KeyContains | HasValue,
) -> sa.ColumnElement[bool]:
    """EXISTS a value-index row of this entry that satisfies the condition."""
    v = _V.c
    if isinstance(condition, KeyContains):
        if not condition.field_ids:
            return sa.false()
        needle = condition.needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        test = sa.and_(v.field_id.in_(condition.field_ids), v.key.like(f"%{needle}%", escape="\\"))
    elif isinstance(condition, KeysIn):
        if not condition.keys:
            return sa.false()
        test = sa.and_(v.field_id == condition.field_id, v.key.in_(condition.keys))
    elif isinstance(condition, KeyRange):
        test = sa.and_(
            v.field_id == condition.field_id, getattr(v.key, _OPS[condition.op])(condition.key)
        )
    elif isinstance(condition, KeyPrefix):
        test = sa.and_(
            v.field_id == condition.field_id,
            v.key >= condition.prefix,
            v.key < condition.prefix + _TOP,
        )
    else:
        test = v.field_id == condition.field_id
    return sa.exists().where(v.entry_pk == _E.pk, test)


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
