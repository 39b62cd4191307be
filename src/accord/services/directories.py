"""Directories and their fields: administered by administrators (and the CLI)."""

import re
import uuid

from accord.domain.errors import AccordError, Conflict, FieldNotFound
from accord.domain.names import checked_name
from accord.domain.schema import (
    COMPANIES,
    CUSTOM_FIELD_PREFIX,
    MAX_DIRECTORY_CODE_LENGTH,
    Directory,
    Field,
    FieldType,
)
from accord.domain.users import Actor
from accord.store import schema as store
from accord.store.database import CacheKind, Transaction

_DIRECTORY_CODE = re.compile(rf"[A-Z][A-Z0-9_]{{1,{MAX_DIRECTORY_CODE_LENGTH - 1}}}")


class InvalidDirectoryCode(AccordError):
    code = "invalid_directory_code"

    def __init__(self) -> None:
        super().__init__(
            f"A directory code is 2 to {MAX_DIRECTORY_CODE_LENGTH} letters, digits or _,"
            " starting with a letter"
        )


class InvalidFieldOption(AccordError):
    """Options of a field that do not go together, or one that cannot change."""

    code = "invalid_field_option"


class BuiltinField(AccordError):
    """A change to a built-in field other than its display name."""

    code = "builtin_field"

    def __init__(self, which: Field) -> None:
        super().__init__(
            f"Field '{which.name}' ({which.code}) is built in: only its name can change"
        )


def new_field_code() -> str:
    """A custom field's code: generated once, never changed (legacy-api.md §3)."""
    return f"{CUSTOM_FIELD_PREFIX}{uuid.uuid4()}"


def add_directory(tx: Transaction, code: str, name: str, *, actor: Actor) -> Directory:
    """A new directory with one required text field, "Name", as its name field."""
    actor.rights.require_admin()
    code = code.strip().upper()
    if not _DIRECTORY_CODE.fullmatch(code):
        raise InvalidDirectoryCode().about("code")
    name = checked_name(name)
    _lock_schema(tx)
    # Its code and its name must each reach it alone: neither may already name another
    # directory by code, display name or alias (a path or tableName would reach that one).
    for taken in (code, name):
        existing = tx.schema.directory_named(taken)
        if existing is not None:
            raise Conflict(f"Directory '{existing.name}' ({existing.code}) already exists")
    name_field = new_field_code()
    directory_id = store.insert_directory(
        tx.connection, code=code, name=name, name_field=name_field
    )
    store.insert_field(
        tx.connection,
        Field(0, directory_id, name_field, "Name", FieldType.TEXT, required=True),
    )
    tx.changed(CacheKind.SCHEMA)
    return tx.schema.directory(directory_id)


def _lock_schema(tx: Transaction) -> None:
    """Wait for every other transaction that changes the schema to end, and see what it
    did: call it before checking a new name against the schema. Without it, administrators
    adding the same field at once each found none and each added it (PostgreSQL runs
    writers side by side; SQLite one after another). `changed` takes the instance row's
    lock, held till the end of this transaction, and reloads the schema."""
    tx.changed(CacheKind.SCHEMA)


def add_field(
    tx: Transaction,
    directory_name: str,
    name: str,
    kind: FieldType,
    *,
    dictionary: str | None = None,
    link_to: str | None = None,
    multiple: bool = False,
    required: bool = False,
    unique: bool = False,
    actor: Actor,
) -> Field:
    """A new custom field at the end of a directory, with a generated code."""
    actor.rights.require_admin()
    _lock_schema(tx)
    schema = tx.schema
    directory = schema.find_directory(directory_name)
    name = checked_name(name)
    if schema.field_by_name(directory, name) is not None:
        raise Conflict(f"Field '{name}' already exists in {directory.name}")
    needs_dictionary = kind in (FieldType.DICTIONARY, FieldType.POSITION)
    if needs_dictionary != (dictionary is not None):
        raise InvalidFieldOption(
            "A dictionary or position field, and only those, name a dictionary"
        ).about("dictionary")
    if (kind is FieldType.LINK) != (link_to is not None):
        raise InvalidFieldOption(
            "A link field, and only a link field, names the directory it links to"
        ).about("link_to")
    if kind is FieldType.CONTACTS and directory.code != COMPANIES:
        raise InvalidFieldOption(
            "A contacts field lists the contacts of a company: only companies have one"
        ).about("type")
    if multiple and not kind.can_be_multiple:
        raise InvalidFieldOption("Only dictionary and link fields can hold several values").about(
            "multiple"
        )
    if unique and (multiple or kind not in _UNIQUE_TYPES):
        raise InvalidFieldOption(
            "Only single text, e-mail, URL and number fields can be unique"
        ).about("unique")
    field = Field(
        0,
        directory.id,
        new_field_code(),
        name,
        kind,
        multiple=multiple,
        required=required,
        unique=unique,
        dictionary_id=schema.find_dictionary(dictionary).id if dictionary else None,
        target_directory_id=schema.find_directory(link_to).id if link_to else None,
    )
    field_id = store.insert_field(tx.connection, field)
    tx.changed(CacheKind.SCHEMA)
    return next(f for f in tx.schema.fields_of(directory) if f.id == field_id)


_UNIQUE_TYPES = (FieldType.TEXT, FieldType.EMAIL, FieldType.URL, FieldType.NUMBER)


ALTERABLE = frozenset({"name", "required"})
_ALTERABLE_TYPES = "name is a string and required a boolean"


def alter_field(
    tx: Transaction, directory_name: str, code: str, changes: dict[str, object], *, actor: Actor
) -> Field:
    """Rename a field or make it (not) required; its code never changes, and of a
    built-in field (`Directory.builtin_field`) only the name does."""
    actor.rights.require_admin()
    _lock_schema(tx)
    schema = tx.schema
    directory = schema.find_directory(directory_name)
    field = schema.field_by_code(directory, code)
    if field is None:
        raise FieldNotFound(code)
    unknown = sorted(set(changes) - ALTERABLE)
    if unknown:
        raise InvalidFieldOption(
            f"Only {', '.join(sorted(ALTERABLE))} can change; not {', '.join(unknown)}"
        ).about(unknown[0])
    name, required = changes.get("name", field.name), changes.get("required", field.required)
    if not isinstance(name, str):
        raise InvalidFieldOption(_ALTERABLE_TYPES).about("name")
    if not isinstance(required, bool):
        raise InvalidFieldOption(_ALTERABLE_TYPES).about("required")
    if required != field.required and directory.builtin_field(field):
        raise BuiltinField(field).about("required")
    name = checked_name(name)
    clash = schema.field_by_name(directory, name)
    if clash is not None and clash.id != field.id:
        raise Conflict(f"Field '{name}' already exists in {directory.name}")
    store.update_field(tx.connection, field.id, name=name, required=required)
    tx.changed(CacheKind.SCHEMA)
    return tx.schema.field(directory, code)
