"""Directories, fields and dictionaries: the shape of the data, as one immutable snapshot."""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar, cast

from accord.domain.entries import parse_id
from accord.domain.errors import DictionaryNotFound, DirectoryNotFound, FieldNotFound
from accord.domain.text import fold, name_form

COMPANIES = "CLIENTS"
CONTACTS = "CONTACTS"
PRODUCTS = "PRODUCTS"
TRANSACTIONS = "TRANSACTIONS"
DIRECTORY_ALIASES = {"COMPANIES": COMPANIES}
MAX_DIRECTORY_CODE_LENGTH = 64
"""A directory's code: 2 to this many capital letters, digits or _, a letter first."""
T = TypeVar("T")


class FieldType(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    URL = "url"
    NUMBER = "number"
    DATE = "date"
    CHECKBOX = "checkbox"
    DICTIONARY = "dictionary"
    POSITION = "position"
    LINK = "link"
    USER = "user"
    GROUP = "group"
    CONTACTS = "contacts"
    CREATOR = "creator"
    CREATED_AT = "created_at"

    @property
    def is_stored(self) -> bool:
        """Whether entries hold a value of this type (the others are computed)."""
        return self not in _COMPUTED

    @property
    def can_be_multiple(self) -> bool:
        return self in (FieldType.DICTIONARY, FieldType.LINK)


_COMPUTED = frozenset({FieldType.CONTACTS, FieldType.CREATOR, FieldType.CREATED_AT})


CUSTOM_FIELD_PREFIX = "clients_field_"
"""How every custom field's code begins, in any directory (legacy-api.md §3)."""


@dataclass(frozen=True, slots=True)
class Directory:
    id: int
    code: str
    name: str
    name_field: str
    builtin: bool = False

    def builtin_field(self, field: "Field") -> bool:
        """Whether Accord made the field rather than an administrator: a built-in
        directory's own fields (legacy-api.md §3) and every directory's name field. Clients
        rely on their kind, so only their display name is the administrators' to change."""
        custom = field.code.startswith(CUSTOM_FIELD_PREFIX)
        return field.code == self.name_field or (self.builtin and not custom)


@dataclass(frozen=True, slots=True)
class Field:
    id: int
    directory_id: int
    code: str
    name: str
    type: FieldType
    multiple: bool = False
    required: bool = False
    unique: bool = False
    auto_create: bool = False
    """For a link: a name that matches no entry creates one (the contact's Company)."""
    dictionary_id: int | None = None
    target_directory_id: int | None = None
    position: int = 0


@dataclass(frozen=True, slots=True)
class DictionaryValue:
    id: int
    dictionary_id: int
    label: str
    position: int = 0


@dataclass(frozen=True, slots=True)
class Dictionary:
    id: int
    name: str
    values: tuple[DictionaryValue, ...] = ()

    def find_value(self, token: str, *, by_id: bool = True) -> DictionaryValue | None:
        """The value whose label is `token` (case-insensitive), else whose id it is."""
        key = fold(token.strip())
        for value in self.values:
            if fold(value.label) == key:
                return value
        wanted = parse_id(token) if by_id else None
        if wanted is not None:
            for value in self.values:
                if value.id == wanted:
                    return value
        return None


@dataclass(frozen=True, eq=False)
class Schema:
    """Every directory, field and dictionary at one moment; looked up, never changed."""

    version: int
    directories: tuple[Directory, ...]
    fields: tuple[Field, ...]
    dictionaries: tuple[Dictionary, ...]
    _directories_by_id: dict[int, Directory] = field(init=False, repr=False)
    _directories_by_code: dict[str, Directory] = field(init=False, repr=False)
    _fields_by_directory: dict[int, tuple[Field, ...]] = field(init=False, repr=False)
    _fields_by_code: dict[tuple[int, str], Field] = field(init=False, repr=False)
    _dictionaries_by_id: dict[int, Dictionary] = field(init=False, repr=False)
    _labels: dict[int, str] = field(init=False, repr=False)
    _derived: dict[tuple[Any, int], Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        fields_by_directory: dict[int, list[Field]] = {d.id: [] for d in self.directories}
        for f in sorted(self.fields, key=lambda f: (f.position, f.id)):
            fields_by_directory.setdefault(f.directory_id, []).append(f)
        set_ = object.__setattr__
        set_(self, "_directories_by_id", {d.id: d for d in self.directories})
        set_(self, "_directories_by_code", {d.code: d for d in self.directories})
        set_(self, "_fields_by_directory", {k: tuple(v) for k, v in fields_by_directory.items()})
        set_(self, "_fields_by_code", {(f.directory_id, f.code): f for f in self.fields})
        set_(self, "_dictionaries_by_id", {d.id: d for d in self.dictionaries})
        set_(self, "_labels", {v.id: v.label for d in self.dictionaries for v in d.values})
        set_(self, "_derived", {})

    def derived(self, make: "Callable[[Schema, Directory], T]", directory: Directory) -> T:
        """`make(self, directory)`, worked out once for this schema, which never changes:
        what callers derive from a directory's fields to use on every entry they read or
        render (renderers, the fields that need names)."""
        key = (make, directory.id)
        if key not in self._derived:
            self._derived[key] = make(self, directory)
        return cast(T, self._derived[key])

    # Directories

    def directory(self, directory_id: int) -> Directory:
        return self._directories_by_id[directory_id]

    def directory_by_code(self, code: str) -> Directory:
        return self._directories_by_code[code]

    def find_directory(self, name: str) -> Directory:
        """The directory named `name`: its code, display name, or an alias (`COMPANIES`)."""
        found = self.directory_named(name)
        if found is None:
            raise DirectoryNotFound(name)
        return found

    def directory_named(self, name: str) -> Directory | None:
        """The directory `name` names, or None. A code (or the alias) wins over a display
        name, so that a directory is always reached by its own code."""
        wanted = name_form(name)
        code = DIRECTORY_ALIASES.get(wanted.upper(), wanted.upper())
        for directory in self.directories:
            if directory.code.upper() == code:
                return directory
        for directory in self.directories:
            if name_form(directory.name) == wanted:
                return directory
        return None

    # Fields

    def fields_of(self, directory: Directory) -> tuple[Field, ...]:
        """The fields of `directory`, in display order."""
        return self._fields_by_directory.get(directory.id, ())

    def field(self, directory: Directory, code: str) -> Field:
        return self._fields_by_code[(directory.id, code)]

    def name_field(self, directory: Directory) -> Field:
        return self.field(directory, directory.name_field)

    def field_by_code(self, directory: Directory, code: str) -> Field | None:
        return self._fields_by_code.get((directory.id, fold(code)))

    def field_by_name(self, directory: Directory, name: str) -> Field | None:
        wanted = name_form(name)
        for f in self.fields_of(directory):
            if name_form(f.name) == wanted:
                return f
        return None

    def find_field(self, directory: Directory, name_or_code: str) -> Field:
        """The field named by its code or its display name; FieldNotFound otherwise."""
        found = self.field_by_code(directory, name_or_code.strip()) or self.field_by_name(
            directory, name_or_code
        )
        if found is None:
            raise FieldNotFound(name_or_code)
        return found

    def link_fields_to(self, directory: Directory) -> list[Field]:
        """Every link field, in any directory, whose target is `directory`."""
        return [
            f
            for f in self.fields
            if f.type is FieldType.LINK and f.target_directory_id == directory.id
        ]

    def fields_using(self, dictionary: Dictionary) -> list[Field]:
        return [f for f in self.fields if f.dictionary_id == dictionary.id]

    # Dictionaries

    def dictionary(self, dictionary_id: int) -> Dictionary:
        return self._dictionaries_by_id[dictionary_id]

    def find_dictionary(self, name: str) -> Dictionary:
        wanted = name_form(name)
        for dictionary in self.dictionaries:
            if name_form(dictionary.name) == wanted:
                return dictionary
        raise DictionaryNotFound(name)

    def label(self, value_id: int) -> str | None:
        """The label of a dictionary value, None if it was removed."""
        return self._labels.get(value_id)
