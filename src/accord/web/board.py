"""A directory's board: its entries in one column per value of a single-value dictionary
field (and one for none), the first few of each, with a link to the column's list; a
card moves to another column by a form (a select and a button, or dragged, which sends
the same form) carrying the version it was shown at, so a stale move is refused."""

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from accord.domain.entries import Entry, EntryRef
from accord.domain.errors import EntryNotFound, InvalidQuery, StaleVersion
from accord.domain.filters import Compare, Filter, IsNull
from accord.domain.json_values import JsonInput
from accord.domain.rights import Action
from accord.domain.schema import DictionaryValue, Directory, Field, Schema
from accord.services import entries, listings
from accord.services.sessions import WebSession
from accord.services.transactions import Transaction
from accord.web import texts
from accord.web.cards import entry_id_of, version_of
from accord.web.context import Page, Pairs, Refused, form_page, page, redirect
from accord.web.forms import first
from accord.web.values import DICTIONARIES, entry_title, entry_url

COLUMN_SIZE = 10
"""Cards a column shows (its list, by the "more" link, has the others)."""
MAX_COLUMN_SIZE = 50
MAX_COLUMNS = 12
"""Columns a board shows at most (a dictionary's first values): each card's move form
lists every column, so a full board of the default size stays under ~60 KB of HTML."""
MOVE_FORM_BYTES = 4096
"""A move form's largest body (its token, version, field code and value id)."""
NONE = ""
"""The column of entries without a value (in a move form: the value to clear)."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column: the value it stands for (None: no value), and its first cards."""

    value: DictionaryValue | None
    label: str
    cards: list[tuple[Entry, str]]
    more_url: str | None


def groupable(schema: Schema, directory: Directory) -> list[Field]:
    """The fields a board may group `directory` by: one value of a dictionary each."""
    return [f for f in schema.fields_of(directory) if f.type in DICTIONARIES and not f.multiple]


def _grouped_by(schema: Schema, directory: Directory, code: str) -> Field:
    """The field `by=` names (the first that may group, when it names none)."""
    fields = groupable(schema, directory)
    if not fields:
        raise InvalidQuery(texts.BOARD_NO_FIELD.format(directory=directory.name))
    if not code:
        return fields[0]
    field = schema.field_by_code(directory, code[:200])
    if field is None or field not in fields:
        raise InvalidQuery(texts.BOARD_NOT_GROUPABLE.format(field=code[:200]))
    return field


def _size(request: Request) -> int:
    text = request.query_params.get("limit", "")
    if not text:
        return COLUMN_SIZE
    if not (text.isascii() and text.isdigit() and len(text) <= 3):
        raise InvalidQuery(f"limit is 1 to {MAX_COLUMN_SIZE}")
    if not 1 <= int(text) <= MAX_COLUMN_SIZE:
        raise InvalidQuery(f"limit is 1 to {MAX_COLUMN_SIZE}")
    return int(text)


def board_url(directory: Directory, field: Field) -> str:
    return f"{entry_url(directory)}/board?{urlencode({'by': field.code})}"


def _column(
    tx: Transaction,
    session: WebSession,
    directory: Directory,
    field: Field,
    value: DictionaryValue | None,
    size: int,
) -> Column:
    if value is None:
        condition: Filter = IsNull(field.code)
        text = f"{field.code} is null"
    else:
        condition = Compare(field.code, "eq", Decimal(value.id))
        text = f"{field.code} eq {value.id}"
    query = listings.ListQuery(condition, limit=size)
    found = listings.list_entries(tx, directory, query, actor=session.actor)
    cards = [(entry, entry_title(tx.schema, directory, entry)) for entry in found.entries]
    more = None
    if found.next_cursor is not None:
        more = f"{entry_url(directory)}?{urlencode({'filter': text})}"
    label = texts.BOARD_NONE if value is None else value.label
    return Column(value, label, cards, more)


def _board(
    tx: Transaction,
    session: WebSession,
    directory: Directory,
    field: Field,
    size: int,
    message: str = "",
    status: int = 200,
) -> Page:
    assert field.dictionary_id is not None
    values = tx.schema.dictionary(field.dictionary_id).values
    shown_values: list[DictionaryValue | None] = [*values[:MAX_COLUMNS], None]
    columns = [_column(tx, session, directory, field, v, size) for v in shown_values]
    return Page(
        "board.html",
        {
            "directory": directory,
            "field": field,
            "fields": groupable(tx.schema, directory),
            "columns": columns,
            "too_many": len(values) > MAX_COLUMNS,
            "max_columns": MAX_COLUMNS,
            "can_edit": session.actor.rights.can(Action.EDIT, directory),
            "message": message,
            "url": entry_url,
            "board_url": board_url(directory, field),
            "none_value": NONE,
        },
        status,
    )


async def board(request: Request) -> Response:
    code = request.path_params["code"]

    def work(tx: Transaction, session: WebSession) -> Page:
        directory = tx.schema.find_directory(code)
        session.actor.rights.require_on(Action.VIEW, directory)
        field = _grouped_by(tx.schema, directory, request.query_params.get("by", ""))
        return _board(tx, session, directory, field, _size(request))

    return await page(request, work)


def _target(field: Field, schema: Schema, text: str) -> JsonInput:
    """The value a move sends the field to: a value of its dictionary, or none."""
    if text == NONE:
        return JsonInput(None)
    assert field.dictionary_id is not None
    wanted = text.isascii() and text.isdigit() and len(text) <= 10
    dictionary = schema.dictionary(field.dictionary_id)
    if not wanted or all(v.id != int(text) for v in dictionary.values):
        raise InvalidQuery(f"No value {text[:50]!r} in dictionary '{dictionary.name}'")
    return JsonInput({"id": int(text)})


async def move(request: Request) -> Response:
    """A card moved to another column: its field set, if the entry is still at the
    version the board showed (else the board as it is now, saying so)."""
    code, entry_id = request.path_params["code"], entry_id_of(request)

    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Page | Response:
        form = first(pairs)
        directory = tx.schema.find_directory(code)
        session.actor.rights.require_on(Action.EDIT, directory)
        if entry_id == 0:
            raise EntryNotFound(directory.code)
        field = _grouped_by(tx.schema, directory, form.get("by", ""))
        target = _target(field, tx.schema, form.get("to", ""))
        ref = EntryRef(id=entry_id)
        try:
            entries.update_entry(
                tx,
                directory,
                ref,
                [(field, target)],
                actor=session.actor,
                expected_version=version_of(form.get("version", "")),
            )
        except StaleVersion as stale:
            entry = entries.get_entry(tx, directory, ref, actor=session.actor)
            name = entry_title(tx.schema, directory, entry)
            message = texts.BOARD_STALE.format(name=name, version=stale.current)
            raise Refused(
                _board(tx, session, directory, field, COLUMN_SIZE, message, 409)
            ) from stale
        return redirect(board_url(directory, field))

    return await form_page(request, work, limit=MOVE_FORM_BYTES)
