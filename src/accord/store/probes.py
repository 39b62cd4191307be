"""Conditions in SQL: each a correlated EXISTS probe of an entry's own rows of the value
index or of the text index, or a test of the entry's row itself.

PostgreSQL plans a correlated EXISTS that every match passes as a semi-join (a NOT
EXISTS as an anti-join) and searches the orders of all of them: planning time grows
much faster than their number (80 conditions 0.5 s, 200 over 10 s, 1,000 for minutes).
So only the first `PLANNED_PROBES` such conditions are left to it (`planned`); every
other probe is written `(EXISTS ...) IS TRUE`, which it never turns into a join: each is
planned on its own (linear) and tests the candidates the planned ones leave, one index
lookup each.
"""

from typing import Any, TypeGuard

import sqlalchemy as sa

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
    TextContains,
    TextHas,
)
from accord.store import tables as t
from accord.store import text_page, texts

_E = t.entries.c


_V = t.entry_values


SQLITE_TEXTS = sa.table(
    "entry_texts", sa.column("rowid", sa.BigInteger), sa.column("text", sa.Text)
)
"""SQLite's text index (an FTS5 table: `store.texts`); PostgreSQL's is `t.entry_texts`."""


_OPS = {
    "eq": "__eq__",
    "ne": "__ne__",
    "lt": "__lt__",
    "le": "__le__",
    "gt": "__gt__",
    "ge": "__ge__",
}


PLANNED_PROBES = 4
"""Probes of the value index that PostgreSQL may plan as joins (4: planned in about 3 ms;
8 took 20 ms, and each one more doubles it)."""


def required(condition: Condition) -> list[Condition]:
    """The conditions every match satisfies (the top level of an AND)."""
    if isinstance(condition, Both):
        return [c for item in condition.items for c in required(item)]
    return [condition]


def distinct(conditions: list[Condition]) -> list[Condition]:
    """The conditions without repeats (`a and a` is `a`), in order."""
    return list(dict.fromkeys(conditions))


_PROBES = (KeysIn, KeyRange, KeyPrefix, TextHas, HasValue)


def planned(required: list[Condition], dialect: str, room: int) -> frozenset[Condition] | None:
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


def where(
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
        return sa.and_(*(where(item, dialect, directory_id, planned) for item in condition.items))
    if isinstance(condition, Either):
        return sa.or_(*(where(item, dialect, directory_id, planned) for item in condition.items))
    if isinstance(condition, Negate):
        return sa.not_(where(condition.item, dialect, directory_id, planned))
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
        test = sa.and_(field == condition.field_id, *prefix(v.key, condition.prefix))
    else:
        test = field == condition.field_id
    return _exists(fenced, v.entry_pk == _E.pk, test)


def _exists(fenced: bool, *tests: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """EXISTS a row passing `tests`; `fenced`: with `OFFSET 0`, which keeps PostgreSQL
    from turning it into a join or a hashed subplan (it stays a probe per row)."""
    rows = sa.select(sa.literal(1)).where(*tests)
    return sa.exists(rows.offset(0) if fenced else rows)


def prefix(key: sa.ColumnElement[str], prefix: str) -> list[sa.ColumnElement[bool]]:
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
        x = SQLITE_TEXTS.alias("x")
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
        *in_partition(p.c.entry_pk, directory_id),
        p.c.field_id.in_(condition.field_ids),
        *texts_like(p.c.text, condition),
    )


def in_partition(row: sa.ColumnElement[int], directory_id: int) -> list[sa.ColumnElement[bool]]:
    """PostgreSQL: the bounds of the directory's partition of the text index (`texts`),
    so that only its indexes are read. Written as constants, not parameters: a plan of
    a prepared statement made for any parameters (PostgreSQL's generic plan, chosen after
    a few runs) read a whole partition in key order for a piece held by 20 texts (300 ms
    against 7), where the constants prune the others and bound nothing within."""
    low, high = texts.row_keys_of(directory_id)
    return [row >= sa.literal_column(str(low)), row < sa.literal_column(str(high))]


def texts_like(text: sa.ColumnElement[str], condition: TextHas) -> list[sa.ColumnElement[bool]]:
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


def text_rows_of(directory_id: int) -> tuple[int, int]:
    """The text index's rowids of a directory's entries: from the first, up to the last."""
    return (
        texts.text_row(t.entry_row_key(directory_id, 0), 0),
        texts.text_row(t.entry_row_key(directory_id + 1, 0), 0),
    )


def indexable(condition: Condition) -> TypeGuard[TextHas]:
    """SQLite: a piece of text its text index finds (3 characters or more, the start
    mark of a piece at the start of a text included)."""
    return (
        isinstance(condition, TextHas)
        and bool(condition.field_ids)
        and len(texts.sqlite_piece(condition.piece, at_start=condition.at_start))
        >= texts.MIN_INDEXED
    )
