"""Entries of any directory: read, find, search, create, update, delete, link."""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from accord.domain.entries import Entry, EntryRef, StoredValue
from accord.domain.errors import (
    AccordError,
    DuplicateValue,
    EntryNotFound,
    FieldErrors,
    FieldNotFound,
    StaleVersion,
    refuse,
)
from accord.domain.json_values import JsonInput, parse_json_value
from accord.domain.rights import Action
from accord.domain.schema import (
    COMPANIES,
    CONTACTS,
    Dictionary,
    Directory,
    Field,
    FieldType,
    Schema,
)
from accord.domain.users import Actor
from accord.domain.values import (
    SEARCHED_TYPES,
    Criterion,
    RawValue,
    criterion,
    index_keys,
    indexed_text,
    parse_value,
    referenced_ids,
)
from accord.domain.writes import (
    HistoryRow,
    cleared_required,
    creation_history,
    deletion_history,
    diff,
    entry_name,
    missing_required,
    name_key,
    new_values,
    shown,
    stored_fields,
    update_history,
)
from accord.services import outbox
from accord.services.resolver import StoreResolver
from accord.services.transactions import now
from accord.store import entries as store
from accord.store import history, texts
from accord.store.database import Transaction
from accord.store.entries import IndexRow, NameRequest
from accord.store.schema import allocate_entry_ids

Inputs = Sequence[tuple[Field, RawValue | JsonInput]]
"""Field values as typed (legacy text or REST JSON), in order; a later value of a field wins."""


# Reads


def get_entry(tx: Transaction, directory: Directory, ref: EntryRef, *, actor: Actor) -> Entry:
    """The entry `ref` names in `directory`; EntryNotFound if there is none."""
    actor.rights.require_on(Action.VIEW, directory)
    return with_names(tx, directory, [locate(tx, directory, ref, actor)])[0]


def search_entries(
    tx: Transaction,
    directory: Directory,
    terms: Sequence[tuple[Field, str]] = (),
    *,
    actor: Actor,
) -> Iterator[Entry]:
    """Entries whose every (field, value) term matches, by id; all entries if no terms.

    Rights are checked now; the entries are read as the caller iterates, so the
    transaction must stay open until then.
    """
    actor.rights.require_on(Action.VIEW, directory)
    lookup = StoreResolver(tx, actor)
    found = (criterion(f, text, schema=tx.schema, lookup=lookup) for f, text in terms)
    criteria = [c for c in found if c is not None]
    if any(not group for c in criteria for group in c.groups):
        return iter(())
    return _stream(tx, directory, criteria)


def _stream(tx: Transaction, directory: Directory, criteria: list[Criterion]) -> Iterator[Entry]:
    for batch in store.stream_entries(tx.connection, directory.id, criteria):
        yield from with_names(tx, directory, batch)


def locate(
    tx: Transaction, directory: Directory, ref: EntryRef, actor: Actor, *, lock: bool = False
) -> Entry:
    """The entry `ref` names: by id, or by name (exact, else white-space-blind; lowest id)."""
    entry_id, entry = ref.id, None
    if ref.name is not None and not lock:
        entry = StoreResolver(tx, actor).find_entry_named(directory, ref.name)
    elif ref.name is not None:
        entry_id = StoreResolver(tx, actor).entry_named(directory, ref.name)
    if entry_id is not None:
        entry = store.fetch_entry(tx.connection, directory.id, entry_id, for_update=lock)
    if entry is None:
        raise EntryNotFound(directory.code)
    return entry


def with_names(
    tx: Transaction, directory: Directory, entries: list[Entry], *, contacts: bool = False
) -> list[Entry]:
    """The entries, carrying the names of what they point at.

    With `contacts`, also the contacts of each company (the Contacts field, which the
    legacy API does not render, so it does not pay for it).
    """
    request = _name_request(_naming_fields(tx.schema, directory), entries)
    if contacts:
        _ask_contacts(tx, directory, entries, request)
    if not request:
        return entries
    names = store.fetch_names(tx.connection, request)
    return [entry.named(names) for entry in entries]


def with_contacts(tx: Transaction, directory: Directory, entry: Entry) -> Entry:
    """The entry (already carrying its names), now also carrying a company's contacts."""
    request = NameRequest()
    _ask_contacts(tx, directory, [entry], request)
    if not request:
        return entry
    contacts = store.fetch_names(tx.connection, request).contacts
    return replace(entry, names=replace(entry.names, contacts=contacts))


def _ask_contacts(
    tx: Transaction, directory: Directory, entries: Sequence[Entry], request: NameRequest
) -> None:
    link = contacts_link(tx, directory)
    if link is not None:
        request.contacts_field = link.id
        request.contacts_of.update(e.id for e in entries)


def contacts_link(tx: Transaction, directory: Directory) -> Field | None:
    """The link field whose holders `directory`'s Contacts field lists (a contact's
    company), None if it has none. Only a company has contacts (a Contacts field
    elsewhere, made before that was refused, would list those of the company with the
    same id)."""
    if directory.code != COMPANIES or not any(
        f.type is FieldType.CONTACTS for f in tx.schema.fields_of(directory)
    ):
        return None
    return tx.schema.field(tx.schema.directory_by_code(CONTACTS), "contact_company")


_NAMING_TYPES = frozenset({FieldType.CREATOR, FieldType.LINK, FieldType.USER, FieldType.GROUP})


def _naming_fields(schema: Schema, directory: Directory) -> tuple[Field, ...]:
    """The fields of `directory` that render names read from elsewhere (users, entries,
    groups), worked out once per schema: most fields need none, and a point read
    went through them all for nothing."""
    return schema.derived(_naming_fields_of, directory)


def _naming_fields_of(schema: Schema, directory: Directory) -> tuple[Field, ...]:
    return tuple(f for f in schema.fields_of(directory) if f.type in _NAMING_TYPES)


def _name_request(fields: Iterable[Field], entries: Sequence[Entry]) -> NameRequest:
    """What `fields` (naming fields only) of the entries point at."""
    request = NameRequest()
    for field in fields:
        if field.type is FieldType.CREATOR:
            request.users.update(e.created_by for e in entries if e.created_by is not None)
            continue
        ids = {i for e in entries for i in referenced_ids(field, e.values.get(field.code))}
        if not ids:
            continue
        if field.type is FieldType.LINK:
            assert field.target_directory_id is not None
            request.entries.setdefault(field.target_directory_id, set()).update(ids)
        else:
            (request.users if field.type is FieldType.USER else request.groups).update(ids)
    return request


# Writes


SYSTEM_KEYS = frozenset({"id", "version", "created_at", "updated_at"})
"""Keys of a REST entry that are not fields; sent back in a body, they are ignored."""


def json_inputs(
    schema: Schema, directory: Directory, data: Mapping[str, object], *, replace: bool = False
) -> tuple[Inputs, FieldErrors]:
    """REST JSON values by field code, and the codes no field has (to refuse with the rest).

    `replace`: fields left out are cleared. Computed fields (read-only) are ignored, so a
    GET's body can be sent back as is.
    """
    unknown: FieldErrors = [
        (code, FieldNotFound(code).about(code))
        for code in data
        if code not in SYSTEM_KEYS and schema.field_by_code(directory, code) is None
    ]
    inputs: list[tuple[Field, RawValue | JsonInput]] = []
    for field in stored_fields(schema, directory):
        if field.code in data:
            inputs.append((field, JsonInput(data[field.code])))
        elif replace:
            inputs.append((field, JsonInput(None)))
    return inputs, unknown


def create_entry(
    tx: Transaction,
    directory: Directory,
    inputs: Inputs,
    *,
    actor: Actor,
    refused: Sequence[tuple[str, AccordError]] = (),
) -> Entry:
    """Create an entry from typed values; its id is the directory's next one.

    Every field's error is reported at once, with those the caller `refused` already.
    """
    actor.rights.require_on(Action.ADD, directory)
    parsed, errors = _parse(tx, directory, inputs, actor)
    values = new_values(parsed)
    errors += missing_required(tx.schema.fields_of(directory), values, errors)
    refuse([*refused, *errors])
    return _insert(tx, directory, values, actor=actor)


def _insert(
    tx: Transaction, directory: Directory, values: Mapping[str, StoredValue], *, actor: Actor
) -> Entry:
    schema, at = tx.schema, now()
    name = entry_name(directory, values)
    entry = store.insert_entry(
        tx.connection,
        directory_id=directory.id,
        number=allocate_entry_ids(tx.connection, directory.id),
        name=name,
        name_compact=name_key(name),
        values=values,
        at=at,
        by=actor.user_id,
    )
    stored = stored_fields(schema, directory)
    rows = [r for f in stored for r in _index_rows(f, values)]
    store.update_index(tx.connection, entry.row, added=rows)
    texts.replace(tx.connection, text_rows(entry.row, stored, values, created=True))
    entry = with_names(tx, directory, [entry])[0]
    _record(tx, directory, at, actor, creation_history(schema, directory, entry))
    return entry


def update_entry(
    tx: Transaction,
    directory: Directory,
    ref: EntryRef,
    inputs: Inputs,
    *,
    actor: Actor,
    expected_version: int | None = None,
    refused: Sequence[tuple[str, AccordError]] = (),
) -> Entry:
    """Change the given fields of an entry; an empty value clears its field.

    With `expected_version`, the entry must still be at that version (no lost update).
    Every field's error is reported at once, with those the caller `refused` already.
    """
    actor.rights.require_on(Action.EDIT, directory)
    current = locate(tx, directory, ref, actor, lock=True)
    if expected_version is not None and current.version != expected_version:
        raise StaleVersion(current.version)
    changes, errors = _parse(tx, directory, inputs, actor)
    errors += cleared_required(tx.schema.fields_of(directory), changes)
    refuse([*refused, *errors])
    return _apply(tx, directory, current, changes, actor=actor)


def link_contact_to_company(
    tx: Transaction, contact: EntryRef, company: EntryRef, *, actor: Actor
) -> Entry:
    """Make the company the contact's company, replacing the one it had."""
    schema = tx.schema
    contacts, companies = schema.directory_by_code(CONTACTS), schema.directory_by_code(COMPANIES)
    actor.rights.require_on(Action.EDIT, contacts)
    current = locate(tx, contacts, contact, actor, lock=True)
    company_id = locate(tx, companies, company, actor).id
    return _apply(tx, contacts, current, {"contact_company": company_id}, actor=actor)


def delete_entry(
    tx: Transaction,
    directory: Directory,
    ref: EntryRef,
    *,
    actor: Actor,
    expected_version: int | None = None,
) -> None:
    """Delete an entry; every link to it from other entries is cleared (with history)."""
    actor.rights.require_on(Action.REMOVE, directory)
    entry = with_names(tx, directory, [locate(tx, directory, ref, actor, lock=True)])[0]
    if expected_version is not None and entry.version != expected_version:
        raise StaleVersion(entry.version)
    _clear_links_to(tx, directory, entry, actor)
    outbox.entry_deleted(tx, entry.row)
    store.delete_entry(tx.connection, entry)
    _record(tx, directory, now(), actor, [deletion_history(tx.schema, directory, entry)])


def _clear_links_to(tx: Transaction, directory: Directory, target: Entry, actor: Actor) -> None:
    fields = tx.schema.link_fields_to(directory)
    _remove_reference(tx, fields, target.id, actor, skip=(target.directory_id, target.id))


def clear_dictionary_value(
    tx: Transaction, dictionary: Dictionary, value_id: int, *, actor: Actor
) -> None:
    """Take a dictionary value out of every entry that holds it (before it is removed)."""
    _remove_reference(tx, tx.schema.fields_using(dictionary), value_id, actor)


def _remove_reference(
    tx: Transaction,
    fields: Sequence[Field],
    ref_id: int,
    actor: Actor,
    *,
    skip: tuple[int, int] | None = None,
) -> None:
    """Remove `ref_id` from `fields` in every entry holding it, with history."""
    holders: dict[tuple[int, int], tuple[Entry, dict[str, StoredValue | None]]] = {}
    for field, holder in store.entries_holding(tx.connection, fields, str(ref_id)):
        if (holder.directory_id, holder.id) == skip:
            continue
        _, changes = holders.setdefault((holder.directory_id, holder.id), (holder, {}))
        changes[field.code] = _without(holder.values.get(field.code), ref_id)
    for holder, changes in holders.values():
        _apply(tx, tx.schema.directory(holder.directory_id), holder, changes, actor=actor)


def _without(value: StoredValue | None, ref_id: int) -> StoredValue | None:
    if isinstance(value, list):
        rest = [i for i in value if i != ref_id]
        return rest or None
    return None


def _apply(
    tx: Transaction,
    directory: Directory,
    current: Entry,
    changes: Mapping[str, StoredValue | None],
    *,
    actor: Actor,
) -> Entry:
    """Write the changed values of an entry: row, index and history, or nothing at all."""
    schema = tx.schema
    change = diff(schema, directory, current.values, changes)
    changed, values = change.fields, change.values
    if not changed:
        return with_names(tx, directory, [current])[0]
    at, name = now(), entry_name(directory, values)
    updated = store.update_entry(
        tx.connection,
        current,
        name=name,
        name_compact=name_key(name),
        values=values,
        at=at,
        by=actor.user_id,
    )
    store.update_index(
        tx.connection,
        current.row,
        removed=[(f.id, k) for f in changed for k in index_keys(f, current.values.get(f.code))],
        added=[r for f in changed for r in _index_rows(f, values)],
    )
    texts.replace(tx.connection, text_rows(current.row, changed, values))
    if name != entry_name(directory, current.values):
        outbox.entries_renamed(tx, [current.row])
    before, after = with_names(tx, directory, [current, updated])
    _record(tx, directory, at, actor, update_history(schema, directory, changed, before, after))
    return after


def _record(
    tx: Transaction, directory: Directory, at: datetime, actor: Actor, rows: Sequence[HistoryRow]
) -> None:
    """Append the rows a write records to the history, made at `at` by the actor."""
    history.append(
        tx.connection,
        [
            history.Change(
                directory.id, number, at, actor.user_id, actor.edge, action, code, old, new
            )
            for number, action, code, old, new in rows
        ],
    )


def _parse(
    tx: Transaction, directory: Directory, inputs: Inputs, actor: Actor
) -> tuple[dict[str, StoredValue | None], FieldErrors]:
    """The stored values of the inputs that parse, and what is wrong with the others."""

    def create_named(target: Directory, name: str) -> int:
        name_field = tx.schema.name_field(target)
        return create_entry(tx, target, [(name_field, RawValue(name))], actor=actor).id

    resolver = StoreResolver(tx, actor, create_named)
    parsed: dict[str, StoredValue | None] = {}
    errors: FieldErrors = []
    for field, raw in inputs:
        try:
            parsed[field.code] = _parse_one(tx, field, raw, resolver)
        except DuplicateValue:
            raise  # the database refused a write: the transaction cannot go on
        except AccordError as error:
            errors.append((field.code, error.about(field.code)))
    return parsed, errors


def _parse_one(
    tx: Transaction, field: Field, raw: RawValue | JsonInput, resolver: StoreResolver
) -> StoredValue | None:
    if isinstance(raw, RawValue):
        return parse_value(
            field, raw.text, display=raw.display, schema=tx.schema, resolver=resolver
        )
    return parse_json_value(field, raw.value, schema=tx.schema, resolver=resolver)


def _index_rows(field: Field, values: Mapping[str, StoredValue]) -> list[IndexRow]:
    value = values.get(field.code)
    return [IndexRow(field, key, shown(value)) for key in index_keys(field, value)]


def text_rows(
    entry_row: int,
    fields: Iterable[Field],
    values: Mapping[str, StoredValue],
    *,
    created: bool = False,
) -> list[texts.TextRow]:
    """The entry's rows of the text index for these fields (None: none any more). A
    `created` entry had none, so its empty fields have nothing to remove."""
    rows = [
        (entry_row, f.id, indexed_text(f, values.get(f.code)))
        for f in fields
        if f.type in SEARCHED_TYPES
    ]
    return [row for row in rows if row[2] is not None] if created else rows
