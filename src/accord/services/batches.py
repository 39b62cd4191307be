"""Batches: create, update or upsert up to 1000 entries of a directory in one call.

Every item is checked first, in Python, against the database and the items before it:
rights, values, required fields, unique values, ids. The valid ones are then written
together, with a few multi-row statements (`store.bulk`), and the rows are those the
one-by-one services (`entries.create_entry`, `entries.update_entry`) would write, item
after item: entry row, index rows, history, version. Both follow the same write rules
(`domain.writes`: required fields, what an update changes, names, history rows), so an
item is refused for what its single write would be, with the same errors. An item that
fails leaves no trace; all-or-nothing, nothing is written when any item fails.

Where a batch differs from its items sent one by one: a link names an entry that
existed before the batch (not one the same batch creates), and two items naming the
same entry (the same id, or the same value of the matched unique field) are a conflict,
not two writes in a row.

An item may carry the `version` it read, as a single write carries `If-Match`: an item
that updates then fails with StaleVersion unless the entry is still at that version,
and with EntryNotFound when there is no entry to update.

How items' values are parsed and indexed, once per batch for a value that comes again:
`services.batch_values`.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from accord.domain.entries import MAX_ID, Entry, StoredValue
from accord.domain.errors import (
    AccordError,
    Conflict,
    DuplicateValue,
    EntryNotFound,
    FieldRequired,
    InvalidFields,
    InvalidParameter,
    NoIdsLeft,
    ParameterRequired,
    StaleVersion,
    refuse,
)
from accord.domain.json_values import JsonInput
from accord.domain.rights import Action
from accord.domain.schema import Directory, Field, Schema
from accord.domain.users import Actor
from accord.domain.values import RawValue, index_keys
from accord.domain.writes import (
    Diff,
    HistoryRow,
    cleared_required,
    creation_history,
    diff,
    entry_name,
    missing_required,
    name_key,
    new_values,
    shown,
    update_history,
)
from accord.services import outbox
from accord.services.batch_values import BatchValues, PlanningResolver
from accord.services.entries import create_entry, text_rows, with_names
from accord.services.resolver import StoreResolver
from accord.services.transactions import CacheKind, now
from accord.store import bulk, texts
from accord.store.database import Transaction
from accord.store.schema import advance_entry_ids, allocate_entry_ids

MAX_ITEMS = 1000


class Mode(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UPSERT = "upsert"
    """Update the entry the item names, or create it when there is none."""


class BatchError(AccordError):
    """A batch that cannot be run at all (its size, its `match`)."""

    code = "invalid_batch"


class BatchRefused(InvalidFields):
    """An all-or-nothing batch in which some items failed, so none was written.

    `errors` name what failed as `entries.<index>.<field code>` (`entries.<index>` when
    it is the item as a whole), as a request's invalid fields are named.
    """

    code = "batch_refused"

    def __init__(self, failures: list[tuple[int, AccordError]], total: int) -> None:
        AccordError.__init__(
            self, f"{len(failures)} of {total} entries were refused, so none was written"
        )
        self.failures = failures
        self.errors = [
            (f"entries.{index}" + (f".{field}" if field else ""), error)
            for index, failure in failures
            for field, error in _per_field(failure)
        ]


def _per_field(error: AccordError) -> list[tuple[str | None, AccordError]]:
    if isinstance(error, InvalidFields):
        return [(field, e) for field, e in error.errors]
    return [(error.field, error)]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one item: written (created or updated) or refused."""

    index: int
    entry: Entry | None = None
    created: bool = False
    error: AccordError | None = None
    changed: bool = False
    """Created, or updated with a value that differs (an update that changes nothing
    writes nothing, and records no history)."""


def write_batch(
    tx: Transaction,
    directory: Directory,
    items: Sequence[Mapping[str, object]],
    *,
    mode: Mode,
    match: str = "id",
    atomic: bool = False,
    actor: Actor,
) -> list[Outcome]:
    """Write each item (JSON values by field code; `id` when matched by id); the outcome
    of each, in order. `atomic`: if any item fails, BatchRefused (before anything is
    written, or after what was is rolled back with the caller's transaction).

    `match` names what update and upsert find entries by: `id`, or a unique field,
    compared as uniqueness compares (case-insensitively for text).
    """
    if not 1 <= len(items) <= MAX_ITEMS:
        raise BatchError(f"A batch holds 1 to {MAX_ITEMS} entries")
    batch = _Batch(tx, directory, actor, mode, _match_field(tx.schema, directory, mode, match))
    work = [_Item(i, data) for i, data in enumerate(items)]
    batch.locate(work)
    batch.parse(work)
    batch.claim(work)
    failed = [(w.index, w.error) for w in work if w.error is not None]
    if atomic and failed:
        raise BatchRefused(failed, len(work))
    batch.write([w for w in work if w.error is None], atomic=atomic)
    return batch.outcomes(work)


def _match_field(schema: Schema, directory: Directory, mode: Mode, match: str) -> Field | None:
    if mode is Mode.CREATE or match == "id":
        return None
    found = schema.field_by_code(directory, match)
    if found is None or not found.unique:
        raise BatchError(f"match is id or the code of a unique field of {directory.name}")
    return found


@dataclass(slots=True)
class _Item:
    index: int
    data: Mapping[str, object]
    error: AccordError | None = None
    inputs: list[tuple[Field, JsonInput]] = field(default_factory=list)
    ref: int | str | None = None
    """The entry it names: an id or a key of the matched unique field."""
    current: Entry | None = None
    """The entry it updates (None: it creates one)."""
    number: int | None = None
    """The id it creates its entry with."""
    changes: dict[str, StoredValue | None] = field(default_factory=dict)
    pending: bool = False
    """Its values name things to create (a linked entry, a position): parsed again then."""
    written: Entry | None = None
    changed: bool = False

    def fail(self, error: AccordError) -> None:
        if self.error is None:
            self.error = error


class _Batch:
    def __init__(
        self, tx: Transaction, directory: Directory, actor: Actor, mode: Mode, match: Field | None
    ) -> None:
        self.tx, self.directory, self.actor = tx, directory, actor
        self.mode, self.match = mode, match
        self.planning = PlanningResolver(tx, actor)
        self.values = BatchValues(tx.schema, directory)

    def valid(self, items: Sequence[_Item]) -> Iterator[_Item]:
        return (item for item in items if item.error is None)

    # 1. What each item names, and the right it needs

    def locate(self, items: Sequence[_Item]) -> None:
        schema, directory = self.tx.schema, self.directory
        for item in items:
            try:
                item.inputs = self.values.inputs(schema, item.data)
                if self.mode is not Mode.CREATE:
                    item.ref = self._ref(item.data)
            except AccordError as error:
                item.fail(error)
        found = self._existing([i.ref for i in self.valid(items) if i.ref is not None])
        for item in self.valid(items):
            item.current = found.get(item.ref) if item.ref is not None else None
            action = Action.ADD if item.current is None and self.mode is not Mode.UPDATE else None
            try:
                self.actor.rights.require_on(action or Action.EDIT, directory)
                if self.mode is Mode.UPDATE and item.current is None:
                    raise EntryNotFound(directory.code)
                self._check_version(item)
            except AccordError as error:
                item.fail(error)
            if item.current is None and isinstance(item.ref, int):
                item.number = item.ref

    def _check_version(self, item: _Item) -> None:
        """The item's `version`, when it names one, is the version of the entry it
        updates (what If-Match is to a single write); in a create batch it means nothing,
        as in any body that creates."""
        raw = item.data.get("version")
        if raw is None or self.mode is Mode.CREATE:
            return
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
            raise InvalidParameter("version", str(raw)).about("version")
        if item.current is None:
            raise EntryNotFound(self.directory.code)
        if item.current.version != raw:
            raise StaleVersion(item.current.version).about("version")

    def _ref(self, data: Mapping[str, object]) -> int | str | None:
        """The id or unique key the item names (None: it names none, so it creates)."""
        update = self.mode is Mode.UPDATE
        if self.match is None:
            raw = data.get("id")
            if raw is None and update:
                raise ParameterRequired("id").about("id")
            if raw is None:
                return None
            if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_ID:
                raise InvalidParameter("id", str(raw)).about("id")
            return raw
        match, raw = self.match, data.get(self.match.code)
        if raw is None and update:
            raise FieldRequired(match.name).about(match.code)
        if raw is None:
            return None
        # Through the batch's parser, whose memo then spares parsing the value again.
        value = self.values.parse(self.tx, [(match, JsonInput(raw))], self.planning)[match.code]
        return index_keys(match, value)[0]

    def _existing(self, refs: list[int | str]) -> dict[int | str, Entry]:
        """The entries the items name, locked. An upsert first waits for any transaction
        creating entries it names (a concurrent batch of the same names), and updates
        them: else it would create them too, and the database refuse it."""
        connection, directory, found = self.tx.connection, self.directory, dict[int | str, Entry]()
        upsert = self.mode is Mode.UPSERT
        if self.match is None:
            numbers = [r for r in refs if isinstance(r, int)]
            if upsert:
                bulk.wait_for_creators_of_numbers(connection, directory.id, numbers)
            found.update(bulk.entries_by_numbers(connection, directory.id, numbers).items())
        else:
            keys = [r for r in refs if isinstance(r, str)]
            if upsert:
                bulk.wait_for_creators_of_keys(connection, directory.id, self.match.id, keys)
            found.update(bulk.entries_by_unique_keys(connection, self.match.id, keys).items())
        return found

    # 2. Values, as the services parse them, without creating anything yet

    def parse(self, items: Sequence[_Item]) -> None:
        for item in self.valid(items):
            self.planning.pending = False
            try:
                self._parse(item)
            except AccordError as error:
                item.fail(error)

    def _parse(self, item: _Item) -> None:
        """The item's values, checked as `create_entry` or `update_entry` checks them:
        every field's error at once, the required fields' with the values'."""
        parsed, errors = self.values.parse_all(self.tx, item.inputs, self.planning)
        item.pending = self.planning.pending
        fields = self.tx.schema.fields_of(self.directory)
        if item.current is None:
            item.changes = dict(new_values(parsed))
            errors += missing_required(fields, item.changes, errors)
        else:
            item.changes = parsed
            errors += cleared_required(fields, parsed)
        refuse(errors)

    # 3. Entries, unique values and ids, claimed in order

    def claim(self, items: Sequence[_Item]) -> None:
        """Refuse what an earlier item or another entry holds: the entry an item names,
        a unique value, an id; as one-by-one writes would, values an earlier item frees
        are free."""
        # First the directory's id counter, which a batch that creates holds till its
        # end: every transaction creating entries in the directory has committed by
        # then, so the holders read below are all there will be (PostgreSQL).
        next_id = first_free = self._next_id(items)
        unique = self.values.unique
        new_keys = {i.index: _new_keys(i, unique) for i in self.valid(items)}
        wanted = {(f.id, k) for keys in new_keys.values() for f, k in keys}
        holders: dict[tuple[int, str], int | None] = dict(
            bulk.unique_holders(self.tx.connection, sorted(wanted))
        )
        named: dict[int | str, int] = {}
        numbered: dict[int, int] = {}
        for item in list(self.valid(items)):
            number = next_id if item.number is None else item.number
            try:
                if item.ref is not None and item.ref in named:
                    raise Conflict(f"Item {named[item.ref]} names the same entry")
                if item.current is None and number < first_free:
                    # Below the directory's next id: handed out already (its entry was
                    # deleted, or skipped): an id is never used twice.
                    raise Conflict(f"Id {number} was handed out before; ids are not used again")
                if item.current is None and number > MAX_ID:
                    raise NoIdsLeft(self.directory.name)
                if item.current is None and number in numbered:
                    raise Conflict(f"Item {numbered[number]} creates entry {number} too")
                holders.update(_claims(item, new_keys[item.index], holders))
            except AccordError as error:
                item.fail(error)
                continue
            if item.ref is not None:
                named[item.ref] = item.index
            if item.current is None:
                item.number, numbered[number] = number, item.index
                next_id = max(next_id, number + 1)

    def _next_id(self, items: Sequence[_Item]) -> int:
        """The id the next new entry gets (the directory's row stays locked till the end)."""
        if all(i.current is not None for i in self.valid(items)):
            return 0
        return allocate_entry_ids(self.tx.connection, self.directory.id, 0)

    # 4. Writing

    def write(self, items: list[_Item], *, atomic: bool) -> None:
        if not items:
            return
        connection, positions = self.tx.connection, any(i.pending for i in items)
        if positions:
            # Outside the savepoints below, so that rolling one back never undoes it.
            self.tx.changed(CacheKind.SCHEMA)
        try:
            with bulk.savepoint(connection):
                self._write(items)
            return
        except (bulk.Refused, AccordError):
            self._refresh(positions)
        # A concurrent writer took a unique value meanwhile (PostgreSQL): one at a time,
        # ids handed out as the items get written.
        for item in items:
            if item.current is None and not isinstance(item.ref, int):
                item.number = None
            try:
                with bulk.savepoint(connection):
                    self._write([item])
            except (bulk.Refused, AccordError) as error:
                self._refresh(positions)
                item.fail(self._refusal(item, error))
        failed = [(i.index, i.error) for i in items if i.error is not None]
        if atomic and failed:
            raise BatchRefused(failed, len(items))  # the caller rolls the transaction back

    def _refresh(self, positions: bool) -> None:
        if positions:
            self.tx.changed(CacheKind.SCHEMA)  # forget the labels a rolled-back savepoint added

    def _write(self, items: list[_Item]) -> None:
        tx, directory, actor, at = self.tx, self.directory, self.actor, now()
        resolver = StoreResolver(tx, actor, self._create_named)
        for item in items:
            if item.pending:
                item.changes = self.values.parse(tx, item.inputs, resolver)
                if item.current is None:
                    item.changes = dict(new_values(item.changes))
        creates = [i for i in items if i.current is None]
        updates = [(i, d) for i in items if i.current is not None for d in [self._change(i)]]
        fresh = [i for i in creates if i.number is None]
        if fresh:
            first = allocate_entry_ids(tx.connection, directory.id, len(fresh))
            for offset, item in enumerate(fresh):
                item.number = first + offset
        if creates:
            last = max(i.number or 0 for i in creates)
            advance_entry_ids(tx.connection, directory.id, last)
        created = bulk.insert_entries(
            tx.connection,
            directory.id,
            [self._new_entry(i) for i in creates],
            at=at,
            by=actor.user_id,
        )
        changed = [(i, c) for i, c in updates if c.diff.fields]
        updated = bulk.update_entries(
            tx.connection, [d.row for _, d in changed], at=at, by=actor.user_id
        )
        outbox.entries_renamed(tx, [d.row.entry.row for _, d in changed if d.row.name is not None])
        self._index(created, [(i.current, d) for i, d in changed], updated)
        befores = [i.current for i, _ in updates if i.current is not None]
        named = with_names(tx, directory, [*created, *updated, *befores], contacts=True)
        written = [*(i.index for i in creates), *(i.index for i, _ in changed)]
        after = dict(zip(written, named[: len(written)], strict=True))
        before = dict(zip([i.index for i, _ in updates], named[len(written) :], strict=True))
        diffs = {i.index: c.diff for i, c in changed}
        bulk.append_history(
            tx.connection,
            directory.id,
            self._history(items, diffs, before, after),
            at=at,
            by=actor.user_id,
            edge=actor.edge,
        )
        for item in items:
            item.written = after.get(item.index) or before[item.index]
            item.changed = item.index in after

    def _create_named(self, target: Directory, name: str) -> int:
        name_field = self.tx.schema.name_field(target)
        return create_entry(self.tx, target, [(name_field, RawValue(name))], actor=self.actor).id

    def _new_entry(self, item: _Item) -> bulk.NewEntry:
        assert item.number is not None
        values = new_values(item.changes)
        name = entry_name(self.directory, values)
        return bulk.NewEntry(item.number, name, name_key(name), values)

    def _change(self, item: _Item) -> "_Change":
        """What an update changes (`writes.diff`), and the row that writes it."""
        current, directory = item.current, self.directory
        assert current is not None
        change = diff(self.tx.schema, directory, current.values, item.changes)
        if not change.renames(directory):
            return _Change(change, bulk.ChangedEntry(current, None, None, change.values))
        name = entry_name(directory, change.values)
        row = bulk.ChangedEntry(current, name, name_key(name), change.values)
        return _Change(change, row)

    def _index(
        self,
        created: list[Entry],
        changed: list[tuple[Entry | None, "_Change"]],
        updated: list[Entry],
    ) -> None:
        keys, stored = self.values.keys, self.values.stored
        added = [k for entry in created for f in stored for k in keys(entry, f)]
        written = [
            r for entry in created for r in text_rows(entry.row, stored, entry.values, created=True)
        ]
        removed: list[bulk.IndexKey] = []
        for (before, change), after in zip(changed, updated, strict=True):
            assert before is not None
            fields = change.diff.fields
            removed.extend(k for f in fields for k in keys(before, f))
            added.extend(k for f in fields for k in keys(after, f))
            written.extend(text_rows(after.row, fields, after.values))
        bulk.update_index(self.tx.connection, removed=removed, added=added)
        texts.replace(self.tx.connection, written)

    def _history(
        self,
        items: list[_Item],
        diffs: Mapping[int, Diff],
        before: Mapping[int, Entry],
        after: Mapping[int, Entry],
    ) -> list[HistoryRow]:
        """The rows the items record, item after item, as their single writes would."""
        # The schema as it is now: a new position's label is in it.
        schema, directory = self.tx.schema, self.directory
        rows: list[HistoryRow] = []
        for item in items:
            new = after.get(item.index)
            if new is None:
                continue  # an update that changes nothing records nothing
            if item.current is None:
                rows.extend(creation_history(schema, directory, new))
            else:
                fields = diffs[item.index].fields
                rows.extend(update_history(schema, directory, fields, before[item.index], new))
        return rows

    def _refusal(self, item: _Item, error: Exception) -> AccordError:
        """Why the database refused an item that passed every check: who holds its value."""
        if isinstance(error, AccordError):
            return error
        keys = _new_keys(item, self.values.unique)
        held = bulk.unique_holders(self.tx.connection, [(f.id, k) for f, k in keys])
        owner = item.current.id if item.current is not None else None
        for f, k in keys:
            if held.get((f.id, k), owner) != owner:
                return DuplicateValue(f.name, shown(item.changes[f.code])).about(f.code)
        return Conflict("Another request changed these entries meanwhile; send the item again")

    # 5. The outcome of each item

    def outcomes(self, items: Sequence[_Item]) -> list[Outcome]:
        return [
            Outcome(i.index, error=i.error)
            if i.error is not None
            else Outcome(i.index, i.written, created=i.current is None, changed=i.changed)
            for i in items
        ]


@dataclass(frozen=True, slots=True)
class _Change:
    diff: Diff
    row: bulk.ChangedEntry


def _new_keys(item: _Item, unique: Sequence[Field]) -> list[tuple[Field, str]]:
    """The unique values an item sets (its changes of unique fields), as keys."""
    return [
        (f, k)
        for f in unique
        if f.code in item.changes
        and (item.current is None or item.current.values.get(f.code) != item.changes[f.code])
        for k in index_keys(f, item.changes[f.code])
    ]


def _claims(
    item: _Item,
    new_keys: Sequence[tuple[Field, str]],
    holders: Mapping[tuple[int, str], int | None],
) -> dict[tuple[int, str], int | None]:
    """The unique keys the item frees and takes (`new_keys`: those it sets); DuplicateValue
    if another entry holds one."""
    owner = item.current.id if item.current is not None else -1 - item.index
    claims: dict[tuple[int, str], int | None] = {}
    for f, key in new_keys:
        holder = holders.get((f.id, key))
        if holder is not None and holder != owner:
            raise DuplicateValue(f.name, shown(item.changes[f.code])).about(f.code)
        if item.current is not None:
            claims.update(
                ((f.id, old), None) for old in index_keys(f, item.current.values.get(f.code))
            )
        claims[(f.id, key)] = owner
    return claims
