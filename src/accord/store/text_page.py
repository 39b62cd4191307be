"""SQLite: a page in id order walking the text index, as one statement on the driver.

`listing._in_text_order` reads a page of a piece of text (an `icontains`, each rank of a
`q`, each directory of a `/search`) from the text index's matches in rowid order. Built
through SQLAlchemy, the statement and its probes cost about 1.5 ms of Python a page
against 0.3 ms in SQLite: five sixths of a search box's time. The conditions those
searches make (pieces of text, prefixes and keys of a field, their negations and
combinations) are written here as SQL text instead, the same SQL `listing` builds for
them; any other condition returns None, and `listing` builds the statement as before.
"""

from collections.abc import Sequence
from typing import Any

from accord.domain.query import Both, Condition, Either, KeyPrefix, KeysIn, Negate, TextHas
from accord.store import driver, texts

TOP = "\U0010ffff"
"""Above every character: a prefix's keys are those >= it and < it + TOP."""

_PAGE = (
    f"SELECT x.rowid, {driver.ENTRY_COLUMNS} FROM entry_texts x "
    f"JOIN entries e ON e.pk = x.rowid >> {texts.FIELD_BITS} "
    "WHERE x.text MATCH ? AND (x.rowid & {mask}) IN ({fields}){others} "
    "AND x.rowid >= ? AND x.rowid < ? ORDER BY x.rowid {order} LIMIT ?"
)
_FIRST = f"(e.pk << {texts.FIELD_BITS})"
# The entry's own rows of each index, read by key: the same probes as `probes._holds`
# (`field_id + 0` keeps SQLite off the index of a field's values).
_TEXT_IN_FIELD = f"EXISTS (SELECT 1 FROM entry_texts y WHERE y.rowid = {_FIRST} + ? AND {{test}})"
_TEXT_IN_FIELDS = (
    f"EXISTS (SELECT 1 FROM entry_texts y WHERE y.rowid BETWEEN {_FIRST} AND {_FIRST} + "
    f"{texts.MAX_FIELD_ID} AND (y.rowid & {texts.MAX_FIELD_ID}) IN ({{marks}}) AND {{test}})"
)
_VALUE = (
    "EXISTS (SELECT 1 FROM entry_values v "
    "WHERE v.entry_pk = e.pk AND v.field_id + 0 = ? AND {test})"
)

Rendered = tuple[str, list[Any]]


def page_statement(
    piece: TextHas, others: Sequence[Condition], *, descending: bool
) -> Rendered | None:
    """The statement of a page of `piece`'s matches that also hold `others`, with its
    parameters but the last three (the rowids from and below which to read, the limit);
    None when one of `others` is not written here."""
    rendered = [render(c) for c in others]
    if any(test is None for test in rendered):
        return None
    tests = [test for test in rendered if test is not None]
    sql = _PAGE.format(
        mask=texts.MAX_FIELD_ID,
        fields=", ".join("?" * len(piece.field_ids)),
        others="".join(f" AND {test}" for test, _ in tests),
        order="DESC" if descending else "ASC",
    )
    phrase = texts.phrase(piece.piece, at_start=piece.at_start)
    return sql, [phrase, *piece.field_ids, *(p for _, params in tests for p in params)]


def render(condition: Condition) -> Rendered | None:
    """`condition` as SQL over the entries table `e`, with its parameters; None if it is
    of a kind not written here."""
    if isinstance(condition, Both | Either):
        parts = [render(item) for item in condition.items]
        if any(part is None for part in parts):
            return None
        joiner = " AND " if isinstance(condition, Both) else " OR "
        done = [part for part in parts if part is not None]
        return "(" + joiner.join(sql for sql, _ in done) + ")", [p for _, ps in done for p in ps]
    if isinstance(condition, Negate):
        inner = render(condition.item)
        return None if inner is None else (f"NOT {inner[0]}", inner[1])
    if isinstance(condition, TextHas):
        return _text_has(condition)
    if isinstance(condition, KeyPrefix):
        test = 'v."key" >= ? AND v."key" < ?'
        return _VALUE.format(test=test), [
            condition.field_id,
            condition.prefix,
            condition.prefix + TOP,
        ]
    if isinstance(condition, KeysIn):
        if not condition.keys:
            return "0", []
        test = 'v."key" IN (' + ", ".join("?" * len(condition.keys)) + ")"
        return _VALUE.format(test=test), [condition.field_id, *condition.keys]
    return None


def _text_has(condition: TextHas) -> Rendered:
    if not condition.field_ids:
        return "0", []
    wanted = texts.sqlite_piece(condition.piece, at_start=condition.at_start)
    test = "instr(y.text, ?) = 1" if condition.at_start else "instr(y.text, ?) > 0"
    if len(condition.field_ids) == 1:
        return _TEXT_IN_FIELD.format(test=test), [condition.field_ids[0], wanted]
    marks = ", ".join("?" * len(condition.field_ids))
    return _TEXT_IN_FIELDS.format(marks=marks, test=test), [*condition.field_ids, wanted]
