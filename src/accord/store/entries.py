"""Entries and their search index: reads, streams and writes."""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from accord.domain.entries import Entry, Names, StoredValue
from accord.domain.errors import DuplicateValue
from accord.domain.schema import Field, FieldType
from accord.domain.values import Criterion
from accord.store import driver, texts
from accord.store import tables as t
from accord.store.engine import renew_deadline

STREAM_BATCH = 1000
_E = t.entries.c
_V = t.entry_values.c
COLUMNS = (
    _E.pk,
    _E.directory_id,
    _E.number,
    _E.data,
    _E.version,
    _E.created_at,
    _E.created_by,
    _E.updated_at,
    _E.updated_by,
)


@dataclass(frozen=True, slots=True)
class IndexRow:
    field: Field
    key: str
    value: str
    """The value as the user typed it, for the duplicate message."""


@dataclass(slots=True)
class NameRequest:
    """What a batch of entries points at, whose names rendering needs."""

    entries: dict[int, set[int]] = field(default_factory=dict)
    users: set[int] = field(default_factory=set)
    groups: set[int] = field(default_factory=set)
    contacts_of: set[int] = field(default_factory=set)
    """Companies whose contacts to list, through the link field `contacts_field`."""
    contacts_field: int = 0

    def __bool__(self) -> bool:
        return bool(self.entries or self.users or self.groups or self.contacts_of)


# Shared by every entry read: nothing changes a Names in place (`with_names` replaces
# it), and making a fresh one per entry cost a point read 1-2 us.
_NO_NAMES = Names()


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def entry_from_row(row: Any) -> Entry:
    return _entry_from(*row)


def _entry_from(
    pk: int,
    directory_id: int,
    number: int,
    data: dict[str, StoredValue],
    version: int,
    created_at: datetime,
    created_by: int | None,
    updated_at: datetime,
    updated_by: int | None,
) -> Entry:
    return Entry(
        directory_id,
        number,
        data,
        version,
        _utc(created_at),
        created_by,
        _utc(updated_at),
        updated_by,
        _NO_NAMES,
        pk,
    )


# Reads
#
# The statements on the hot paths are built once, with bind parameters: building a
# statement costs more than running it on a point read.

_BY_NUMBER_LOCKED = (
    sa.select(*COLUMNS)
    .where(_E.directory_id == sa.bindparam("directory_id"), _E.number == sa.bindparam("number"))
    .with_for_update()
)
_EXISTS = sa.select(_E.pk).where(
    _E.directory_id == sa.bindparam("directory_id"), _E.number == sa.bindparam("number")
)


def fetch_entry(
    connection: sa.Connection, directory_id: int, number: int, *, for_update: bool = False
) -> Entry | None:
    """The entry `number` of a directory (one indexed row), or None."""
    if for_update:
        params = {"directory_id": directory_id, "number": number}
        row = connection.execute(_BY_NUMBER_LOCKED, params).first()
        return None if row is None else entry_from_row(row)
    found = driver.entry_row(connection, directory_id, number)
    return None if found is None else _entry_from(*found)


def first_entry_with_key(connection: sa.Connection, field_id: int, key: str) -> Entry | None:
    """The lowest-id entry whose `field_id` holds `key` (one statement), or None."""
    found = driver.first_entry_with_key(connection, field_id, key)
    return None if found is None else _entry_from(*found)


def first_entries_with_keys(
    connection: sa.Connection, field_id: int, keys: Sequence[str]
) -> dict[str, Entry]:
    """For each of `keys`, the lowest-id entry whose `field_id` holds it (a few
    statements for many keys); keys no entry holds are left out."""
    values = t.entry_values.c
    found: dict[str, Entry] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), 500):
        query = (
            sa.select(values.key, *COLUMNS)
            .join(t.entries, _E.pk == values.entry_pk)
            .where(values.field_id == field_id, values.key.in_(unique[start : start + 500]))
            .order_by(values.entry_pk)
        )
        for row in connection.execute(query):
            found.setdefault(row[0], entry_from_row(row[1:]))
    return found


def entry_exists(connection: sa.Connection, directory_id: int, number: int) -> bool:
    found = connection.execute(_EXISTS, {"directory_id": directory_id, "number": number})
    return found.first() is not None


def numbers_with_key(connection: sa.Connection, field_id: int, key: str) -> list[int]:
    """Ids of the entries whose `field_id` holds `key`, ascending."""
    # On the driver: a point read by name runs this first, and through SQLAlchemy this
    # one statement cost more than all the rest of the read's own work.
    return driver.numbers_with_key(connection, field_id, key)


def numbers_with_compact_name(
    connection: sa.Connection, directory_id: int, compact: str
) -> list[int]:
    """Ids of the entries whose name, without white space, is `compact`, ascending."""
    return driver.numbers_with_compact_name(connection, directory_id, compact)


def stream_entries(
    connection: sa.Connection, directory_id: int, criteria: Sequence[Criterion] = ()
) -> Iterator[list[Entry]]:
    """The directory's entries matching every criterion, by id, in batches.

    One query read as it goes (a server-side cursor on PostgreSQL), so memory stays
    flat however many entries there are. Its size does not grow with the criteria: see
    `_search_conditions`.
    """
    conditions = _search_conditions(connection, criteria)
    if conditions is None:
        return
    query = sa.select(*COLUMNS).where(_directory_is(connection, directory_id, criteria))
    result = connection.execute(
        query.where(*conditions).order_by(_E.number),
        execution_options={"yield_per": STREAM_BATCH},
    )
    for rows in result.partitions():
        yield [entry_from_row(row) for row in rows]
        # The next batch gets the whole statement time again (SQLite; on PostgreSQL
        # each FETCH is a statement of its own): a stream is cut only if one batch is slow.
        renew_deadline(connection)


def _directory_is(
    connection: sa.Connection, directory_id: int, criteria: Sequence[Criterion]
) -> sa.ColumnElement[bool]:
    # With a value to look for, the entries must be found from the value index. SQLite,
    # left to itself (no statistics), walks the whole directory by id and tests each
    # entry: 43 ms instead of 0.02 ms at 200,000 contacts. `+ 0` makes the directory
    # column unusable as an index there, so the value index drives the plan.
    # A computed field's column (creator, created at) has no index: the directory, in
    # id order, drives such a search, so the directory column stays usable for it.
    values = [c for c in criteria if c.field.type.is_stored and not c.matches_empty]
    if connection.dialect.name == "sqlite" and values:
        return (_E.directory_id + 0) == directory_id
    return _E.directory_id == directory_id


PLANNED_GROUPS = 4
"""Key groups a search tests with one IN probe each, which PostgreSQL plans as joins
(planning time grows much faster than their number); more go through `_holders_of_all`."""
LISTED_KEYS = 100
"""Keys written as parameters of one IN list; more are sent as one JSON parameter."""


def _search_conditions(
    connection: sa.Connection, criteria: Sequence[Criterion]
) -> list[sa.ColumnElement[bool]] | None:
    """The WHERE of a search for `criteria` (None: no entry can match).

    A request can carry tens of thousands of criteria (a 1 MiB form). One condition each
    made statements that PostgreSQL took minutes to plan, and that SQLite refused (an
    expression tree deeper than 1,000, over 32,766 parameters). So the criteria are merged
    per field, as an entry's values mean (a repeated one is the same condition; a value
    set that must hold nothing else than A and nothing else than B holds nothing else
    than A and B), and the key groups beyond `PLANNED_GROUPS` become one probe of the
    value index with the groups as one parameter: a statement of a few conditions per
    field the search names, each with at most `LISTED_KEYS` parameters.
    """
    if any(not group for criterion in criteria for group in criterion.groups):
        return None  # a value no entry holds
    groups: dict[tuple[int, frozenset[str]], None] = {}
    exact: dict[int, frozenset[str]] = {}
    empty: dict[int, None] = {}
    creators: set[int] | None = None
    no_creator = False
    moments: set[str] = set()
    for criterion in dict.fromkeys(criteria):
        kind, field_id = criterion.field.type, criterion.field.id
        keys = [frozenset(group) for group in criterion.groups]
        if kind is FieldType.CREATOR:
            if criterion.matches_empty:
                no_creator = True
            else:
                ids = {int(key) for group in keys for key in group}
                creators = ids if creators is None else creators & ids
        elif kind is FieldType.CREATED_AT:
            moments.update(key for group in keys for key in group)
        elif criterion.matches_empty:
            empty[field_id] = None
        else:
            groups.update(((field_id, group), None) for group in keys)
            if criterion.exact:
                wanted_keys = frozenset().union(*keys)
                exact[field_id] = exact.get(field_id, wanted_keys) & wanted_keys
    if len(moments) > 1:
        return None  # an entry is created at one moment
    conditions: list[sa.ColumnElement[bool]] = []
    if no_creator:
        conditions.append(_E.created_by.is_(None))
    if creators is not None:
        conditions.append(_E.created_by.in_(sorted(creators)))
    for moment in moments:
        # The rendered moment (UTC, to the second): every moment within that second.
        start = datetime.fromisoformat(moment).replace(tzinfo=UTC)
        conditions += [_E.created_at >= start, _E.created_at <= start.replace(microsecond=999_999)]
    for field_id in empty:
        conditions.append(_E.pk.not_in(sa.select(_V.entry_pk).where(_V.field_id == field_id)))
    if len(groups) <= PLANNED_GROUPS:
        conditions += [
            _E.pk.in_(
                sa.select(_V.entry_pk).where(
                    _V.field_id == field_id, _V.key.in_(_key_list(connection, group))
                )
            )
            for field_id, group in groups
        ]
    else:
        conditions.append(_E.pk.in_(_holders_of_all(connection, list(groups))))
    postgresql = connection.dialect.name == "postgresql"
    for field_id, allowed in exact.items():
        # Per candidate, through the index by entry: no value outside the wanted keys.
        other = t.entry_values.alias("other")
        holds_other = sa.exists().where(
            other.c.entry_pk == _E.pk,
            other.c.field_id == field_id,
            other.c.key.not_in(_key_list(connection, allowed)),
        )
        # `IS TRUE` keeps PostgreSQL from planning it as one more join (the groups do that).
        conditions.append(~(holds_other.is_(sa.true()) if postgresql else holds_other))
    return conditions


def _key_list(connection: sa.Connection, keys: frozenset[str]) -> Any:
    """`keys` for an IN: listed when few, else one JSON parameter read as a table."""
    ordered = sorted(keys)
    if len(ordered) <= LISTED_KEYS:
        return ordered
    listed = _json(ordered)
    if connection.dialect.name == "postgresql":
        elements: Any = sa.func.jsonb_array_elements_text(sa.cast(listed, JSONB))
    else:
        elements = sa.func.json_each(listed)
    return sa.select(elements.table_valued("value").c.value)


def _json(value: object) -> sa.BindParameter[str]:
    return sa.bindparam(None, orjson.dumps(value).decode(), type_=sa.Text, unique=True)


def _holders_of_all(
    connection: sa.Connection, groups: list[tuple[int, frozenset[str]]]
) -> sa.Select[tuple[int]]:
    """Entries that hold one key of every (field, keys) group: the value index read
    once for all the keys, sent as one JSON parameter, counting the groups each entry
    meets. Planned alike for any number of groups."""
    rows = [{"g": g, "f": f, "k": k} for g, (f, keys) in enumerate(groups) for k in sorted(keys)]
    wanted = _json(rows)
    if connection.dialect.name == "postgresql":
        w = (
            sa.func.jsonb_to_recordset(sa.cast(wanted, JSONB))
            .table_valued(
                sa.column("g", sa.Integer), sa.column("f", sa.Integer), sa.column("k", sa.Text)
            )
            .render_derived(name="w", with_types=True)
        )
        group: Any = w.c.g
        field_id: Any = w.c.f
        key: Any = w.c.k
        source: Any = w
    else:
        each = sa.func.json_each(wanted).table_valued("value").alias("w")
        group, field_id, key = (
            sa.func.json_extract(each.c.value, f"$.{name}") for name in ("g", "f", "k")
        )
        source = each
    v = t.entry_values.alias("v")
    return (
        sa.select(v.c.entry_pk)
        .select_from(source)
        .join(v, sa.and_(v.c.field_id == field_id, v.c.key == key))
        .group_by(v.c.entry_pk)
        .having(sa.func.count(sa.distinct(group)) == len(groups))
    )


def entries_holding(
    connection: sa.Connection, fields: Iterable[Field], key: str
) -> list[tuple[Field, Entry]]:
    """Each entry that holds `key` in one of `fields`, with the field, locked for update."""
    by_id = {f.id: f for f in fields}
    if not by_id:
        return []
    query = (
        sa.select(_V.field_id, *COLUMNS)
        .join(t.entry_values, _V.entry_pk == _E.pk)
        .where(_V.field_id.in_(by_id), _V.key == key)
        .order_by(_E.directory_id, _E.number)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(of=t.entries)
    return [(by_id[row[0]], entry_from_row(row[1:])) for row in connection.execute(query)]


def fetch_names(connection: sa.Connection, request: NameRequest) -> Names:
    """The names of the entries, users and groups that `request` lists."""
    entries: dict[tuple[int, int], str] = {}
    for directory_id, numbers in request.entries.items():
        for chunk in _chunks(sorted(numbers)):
            rows = driver.entry_names(connection, directory_id, chunk)
            entries.update(((directory_id, n), name) for n, name in rows)
    users = _names(connection, t.users.c.id, t.users.c.login, request.users)
    groups = _names(connection, t.groups.c.id, t.groups.c.name, request.groups)
    contacts = _contacts(connection, request.contacts_field, request.contacts_of)
    return Names(entries, users, groups, contacts)


def _contacts(
    connection: sa.Connection, link_field: int, company_ids: set[int]
) -> dict[int, list[tuple[int, str]]]:
    """company id -> [(contact id, name)] of the contacts whose company it is, by id."""
    found: dict[int, list[tuple[int, str]]] = {}
    p = driver.placeholder(connection)
    for chunk in _chunks(sorted(company_ids)):
        # On the driver: every read of a company asks this, and SQLAlchemy's building
        # and execution of it cost three times the rest of the read.
        sql = (
            "SELECT v.key, e.number, e.name FROM entry_values v "
            f"JOIN entries e ON e.pk = v.entry_pk WHERE v.field_id = {p} "
            f"AND v.key IN ({', '.join([p] * len(chunk))}) ORDER BY e.number"
        )
        rows = driver.execute(connection, sql, [link_field, *(str(i) for i in chunk)])
        for key, number, name in rows:
            found.setdefault(int(key), []).append((number, name))
    return found


def _names(
    connection: sa.Connection, key: sa.Column[int], name: sa.Column[str], ids: set[int]
) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in _chunks(sorted(ids)):
        found.update(
            (row[0], row[1])
            for row in connection.execute(sa.select(key, name).where(key.in_(chunk)))
        )
    return found


def _chunks(items: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Writes


def insert_entry(
    connection: sa.Connection,
    *,
    directory_id: int,
    number: int,
    name: str,
    name_compact: str,
    values: Mapping[str, StoredValue],
    at: datetime,
    by: int | None,
) -> Entry:
    row = connection.execute(
        sa.insert(t.entries)
        .values(
            pk=t.entry_row_key(directory_id, number),
            directory_id=directory_id,
            number=number,
            name=name,
            name_compact=name_compact,
            data=dict(values),
            version=1,
            created_at=at,
            created_by=by,
            updated_at=at,
            updated_by=by,
        )
        .returning(*COLUMNS)
    ).one()
    return entry_from_row(row)


def update_entry(
    connection: sa.Connection,
    entry: Entry,
    *,
    name: str,
    name_compact: str,
    values: Mapping[str, StoredValue],
    at: datetime,
    by: int | None,
) -> Entry:
    row = connection.execute(
        sa.update(t.entries)
        .where(_E.pk == entry.row)
        .values(
            name=name,
            name_compact=name_compact,
            data=dict(values),
            version=entry.version + 1,
            updated_at=at,
            updated_by=by,
        )
        .returning(*COLUMNS)
    ).one()
    return entry_from_row(row)


def delete_entry(connection: sa.Connection, entry: Entry) -> None:
    """Delete the entry; its index rows, texts and issue links go with it."""
    connection.execute(sa.delete(t.entry_values).where(_V.entry_pk == entry.row))
    texts.remove_entries(connection, [entry.row])
    connection.execute(sa.delete(t.entries).where(_E.pk == entry.row))


def update_index(
    connection: sa.Connection,
    entry_row: int,
    *,
    removed: Sequence[tuple[int, str]] = (),
    added: Sequence[IndexRow] = (),
) -> None:
    """Remove and add index rows of one entry; a taken unique value is DuplicateValue."""
    if removed:
        connection.execute(
            sa.delete(t.entry_values).where(
                _V.entry_pk == entry_row,
                sa.tuple_(_V.field_id, _V.key).in_([tuple(r) for r in removed]),
            )
        )
    plain = [r for r in added if not r.field.unique]
    if plain:
        connection.execute(
            sa.insert(t.entry_values),
            [{"field_id": r.field.id, "key": r.key, "entry_pk": entry_row} for r in plain],
        )
    for r in added:
        if r.field.unique:
            _insert_unique(connection, entry_row, r)


def _insert_unique(connection: sa.Connection, entry_row: int, row: IndexRow) -> None:
    # One statement per unique value, so a violation names its field. On PostgreSQL the
    # failed statement ends the transaction, which the caller rolls back anyway.
    values = {
        "field_id": row.field.id,
        "key": row.key,
        "entry_pk": entry_row,
        "unique_key": row.key,
    }
    try:
        connection.execute(sa.insert(t.entry_values).values(values))
    except IntegrityError as error:
        raise DuplicateValue(row.field.name, row.value) from error
