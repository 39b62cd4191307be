"""How a batch reads its items' values: parsed and indexed with the domain's own
functions, each worked out once per batch for a value that comes again, and a resolver
that plans what the values would create instead of creating it."""

from collections.abc import Mapping, Sequence
from itertools import count

from accord.domain.entries import Entry, StoredValue
from accord.domain.errors import AccordError, DuplicateValue, FieldErrors, refuse
from accord.domain.json_values import JsonInput, parse_json_value
from accord.domain.rights import Action
from accord.domain.schema import Dictionary, Directory, Field, FieldType, Schema
from accord.domain.users import Actor
from accord.domain.values import index_keys
from accord.domain.writes import missing_required, stored_fields
from accord.services.entries import SYSTEM_KEYS, json_inputs
from accord.services.resolver import StoreResolver
from accord.store import bulk
from accord.store.database import Transaction


class BatchValues:
    """A directory's fields as a batch reads, parses, indexes and renders their values:
    with the domain's own functions, each worked out once per batch for a value that
    comes again (the same label on a thousand entries)."""

    _PURE = frozenset(
        {
            FieldType.TEXT,
            FieldType.EMAIL,
            FieldType.URL,
            FieldType.NUMBER,
            FieldType.DATE,
            FieldType.CHECKBOX,
            FieldType.DICTIONARY,
        }
    )
    """Types whose parsing asks the store nothing: a value parses the same all batch."""

    def __init__(self, schema: Schema, directory: Directory) -> None:
        self.directory = directory
        self.stored = stored_fields(schema, directory)
        self.unique = [f for f in self.stored if f.unique]
        self._known = SYSTEM_KEYS | {f.code for f in schema.fields_of(directory)}
        self._parsed: dict[tuple[int, type, object], StoredValue | None] = {}
        self._keys: dict[tuple[int, type, object], list[str]] = {}

    def inputs(self, schema: Schema, data: Mapping[str, object]) -> list[tuple[Field, JsonInput]]:
        """What `entries.json_inputs` makes of `data` (which it still does when a key is
        not exactly a field's code or a system key: it knows what to refuse)."""
        if all(key in self._known for key in data):
            return [(f, JsonInput(data[f.code])) for f in self.stored if f.code in data]
        inputs, unknown = json_inputs(schema, self.directory, data)
        refuse(unknown)
        return [(f, v) for f, v in inputs if isinstance(v, JsonInput)]

    def parse(
        self, tx: Transaction, inputs: Sequence[tuple[Field, JsonInput]], resolver: StoreResolver
    ) -> dict[str, StoredValue | None]:
        """The stored values; every field's error at once if any is wrong."""
        parsed, errors = self.parse_all(tx, inputs, resolver)
        refuse(errors)
        return parsed

    def parse_all(
        self, tx: Transaction, inputs: Sequence[tuple[Field, JsonInput]], resolver: StoreResolver
    ) -> tuple[dict[str, StoredValue | None], FieldErrors]:
        """The stored values of the inputs that parse, and what is wrong with the others,
        as `entries._parse` has them."""
        parsed: dict[str, StoredValue | None] = {}
        errors: FieldErrors = []
        for f, raw in inputs:
            value = raw.value
            memo = (f.id, type(value), value) if f.type in self._PURE and _scalar(value) else None
            if memo is not None and memo in self._parsed:
                parsed[f.code] = _copy(self._parsed[memo])
                continue
            try:
                parsed[f.code] = parse_json_value(f, value, schema=tx.schema, resolver=resolver)
            except DuplicateValue:
                raise  # the database refused a write: the savepoint must go
            except AccordError as error:
                errors.append((f.code, error.about(f.code)))
                continue
            if memo is not None:
                self._parsed[memo] = _copy(parsed[f.code])
        return parsed, errors

    def keys(self, entry: Entry, f: Field) -> list[bulk.IndexKey]:
        """The entry's rows of the value index for a field."""
        value = entry.values.get(f.code)
        if not _scalar(value):
            return [(entry.row, f.id, key, f.unique) for key in index_keys(f, value)]
        memo = (f.id, type(value), value)
        found = self._keys.get(memo)
        if found is None:
            found = self._keys[memo] = index_keys(f, value)
        return [(entry.row, f.id, key, f.unique) for key in found]


class PlanningResolver(StoreResolver):
    """Looks things up like the services' resolver, but creates nothing: it records that
    the item names something to create (checking what creating it would check), and the
    item is parsed again, creating for real, when it is written."""

    def __init__(self, tx: Transaction, actor: Actor) -> None:
        super().__init__(tx, actor)
        self.pending = False
        self._placeholders = count(-1, -1)

    def create_named(self, field: Field, directory: Directory, name: str) -> int:
        # What entries.create_entry checks for an entry with only a name.
        self.actor.rights.require_on(Action.ADD, directory)
        refuse(missing_required(self.tx.schema.fields_of(directory), {directory.name_field}))
        self.pending = True
        return next(self._placeholders)

    def add_position(self, dictionary: Dictionary, label: str) -> int:
        self.pending = True
        return next(self._placeholders)


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float)  # bool is an int


def _copy(value: StoredValue | None) -> StoredValue | None:
    return list(value) if isinstance(value, list) else value
