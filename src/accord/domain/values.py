"""Field values by type: parsing what users type, rendering, index keys and search.

Parsing is strict: a value either fits its field's type or is refused with
`Invalid value for field <name>: <value>`; nothing is silently changed except
surrounding white space, which is trimmed.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Protocol

from accord.domain.entries import MAX_ID, Entry, StoredValue, parse_id
from accord.domain.errors import AccordError, FieldReadOnly, InvalidValue
from accord.domain.rights import Action, Rights
from accord.domain.schema import Dictionary, Directory, Field, FieldType, Schema
from accord.domain.text import fold, has_invalid_characters, index_key, search_form

MAX_TEXT_LENGTH = 10_000
MAX_LABEL_LENGTH = 255
"""Longest dictionary label (a value of a dictionary, position or the like)."""
UNSUPPORTED = "Unsupported"

_NUMBER = re.compile(r"[+-]?[0-9]{1,24}(?:[.,][0-9]{1,12})?")
_EXACT = Context(prec=40)  # room for every digit _NUMBER admits (the default keeps 28)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DOTTED_DATE = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4})")
_SPACE = re.compile(r"\s")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_LINK_ID = re.compile(r"\(([0-9]+)\)")
_CHECKBOX = {
    "true": True,
    "yes": True,
    "1": True,
    "on": True,
    "false": False,
    "no": False,
    "0": False,
    "off": False,
}


@dataclass(frozen=True, slots=True)
class RawValue:
    """A value as a user typed it; `display` marks a display text (a name, never an id)."""

    text: str
    display: bool = False


class Lookup(Protocol):
    """Read-only questions parsing and searching ask of the stored data."""

    def entry_exists(self, directory: Directory, entry_id: int) -> bool: ...

    def entry_named(self, directory: Directory, name: str) -> int | None:
        """The entry a name designates (exact, else white-space-blind; lowest id)."""

    def entries_named(self, directory: Directory, name: str) -> list[int]:
        """Every entry whose name is exactly `name` (case-insensitive)."""

    def user_id(self, login: str) -> int | None: ...

    def group_id(self, name: str) -> int | None: ...


class Resolver(Lookup, Protocol):
    """A Lookup that may also create what a value names, as docs/legacy-api.md allows."""

    @property
    def link_rights(self) -> Rights | None:
        """The rights a link value is checked against (`require_link_rights`); None
        where the edge's contract lets a link name any entry (the legacy API)."""

    def create_named(self, field: Field, directory: Directory, name: str) -> int:
        """Create an entry named `name` in `directory` for a link field that auto-creates."""

    def add_position(self, dictionary: Dictionary, label: str) -> int:
        """Add `label` to the Position dictionary; return the new value's id."""


# Parsing


def parse_value(
    field: Field, raw: str, *, display: bool, schema: Schema, resolver: Resolver
) -> StoredValue | None:
    """The stored form of `raw` for `field`, or None to clear the field.

    `display` marks a display text (a `view-clients-*` parameter): dictionaries and
    links then take a label or a name only, never an id.
    """
    if not field.type.is_stored:
        raise FieldReadOnly(field.name)
    if len(raw) > MAX_TEXT_LENGTH or has_invalid_characters(raw):
        raise InvalidValue(field.name, raw)
    text = raw.strip()
    if not text:
        return None
    return _PARSERS[field.type](_Parse(field, text, display, schema, resolver))


@dataclass(frozen=True, slots=True)
class _Parse:
    field: Field
    text: str
    display: bool
    schema: Schema
    resolver: Resolver

    def invalid(self) -> InvalidValue:
        return InvalidValue(self.field.name, self.text)


def _parse_text(p: _Parse) -> StoredValue:
    return p.text


def _parse_email(p: _Parse) -> StoredValue:
    if not _EMAIL.fullmatch(p.text):
        raise p.invalid()
    return p.text


def _parse_url(p: _Parse) -> StoredValue:
    if _SPACE.search(p.text):
        raise p.invalid()
    return p.text


def _parse_number(p: _Parse) -> StoredValue:
    canonical = canonical_number(p.text)
    if canonical is None:
        raise p.invalid()
    return canonical


def _parse_date(p: _Parse) -> StoredValue:
    canonical = canonical_date(p.text)
    if canonical is None:
        raise p.invalid()
    return canonical


def _parse_checkbox(p: _Parse) -> StoredValue:
    checked = _CHECKBOX.get(p.text.lower())
    if checked is None:
        raise p.invalid()
    return checked


def _parse_dictionary(p: _Parse) -> StoredValue:
    dictionary = p.schema.dictionary(_dictionary_id(p.field))
    tokens = _tokens(p.text) if p.field.multiple else [p.text]
    ids: list[int] = []
    for token in tokens:
        value = dictionary.find_value(token, by_id=not p.display)
        if value is None:
            if p.field.type is not FieldType.POSITION or len(token) > MAX_LABEL_LENGTH:
                raise InvalidValue(p.field.name, token)
            ids.append(p.resolver.add_position(dictionary, token))
        elif value.id not in ids:
            ids.append(value.id)
    return ids if p.field.multiple else ids[0]


def _parse_link(p: _Parse) -> StoredValue:
    target = p.schema.directory(_target_id(p.field))
    require_link_rights(p.field, p.schema, p.resolver.link_rights)
    if not p.field.multiple:
        return _link_one(p, target, p.text)
    whole = None if _LINK_ID.fullmatch(p.text) else p.resolver.entry_named(target, p.text)
    tokens = [p.text] if whole is not None else _tokens(p.text)
    ids: list[int] = []
    for token in tokens:
        entry_id = _link_one(p, target, token)
        if entry_id not in ids:
            ids.append(entry_id)
    return ids


def _link_one(p: _Parse, target: Directory, token: str) -> int:
    ref = entry_reference(token, display=p.display)
    if isinstance(ref, int):
        if not p.resolver.entry_exists(target, ref):
            raise InvalidValue(p.field.name, token)
        return ref
    if ref is None:
        raise InvalidValue(p.field.name, token)
    found = p.resolver.entry_named(target, ref)
    if found is not None:
        return found
    if p.field.auto_create:
        return p.resolver.create_named(p.field, target, ref)
    raise InvalidValue(p.field.name, token)


def require_link_rights(field: Field, schema: Schema, rights: Rights | None) -> None:
    """Refuse (PermissionDenied) a writer who may not name entries of the directory the
    link `field` points to, before anything is looked up there.

    Naming an entry takes the right to view its directory: otherwise whether the write
    succeeds would tell whether the named entry exists (a contact linked to a company
    name: 201 if the company exists, 403 "Add companies" if the write would create it),
    to someone who may not see that directory. So without it the answer is the same for
    every name and id: `Add <directory>` where the field creates what it names and the
    writer may not add there either (the contract's message for a company it would
    create), else `View <directory>`. `rights` None: no check (the legacy contract)."""
    target = schema.directory(_target_id(field))
    if rights is None or rights.can(Action.VIEW, target):
        return
    if field.auto_create:
        rights.require_on(Action.ADD, target)
    rights.require_on(Action.VIEW, target)


def has_reference(field: Field, ref_id: int, *, schema: Schema, lookup: Lookup) -> bool:
    """Whether `ref_id` is the id of a value `field` may hold: of its dictionary (a
    dictionary or position field), or of an entry of its target directory (a link).
    Ids only, never labels or names: what the REST API's `{"id": N}` names."""
    if not 0 < ref_id <= MAX_ID:
        return False  # no such id, and none to send to the database
    if field.type is FieldType.LINK:
        return lookup.entry_exists(schema.directory(_target_id(field)), ref_id)
    dictionary = schema.dictionary(_dictionary_id(field))
    return any(value.id == ref_id for value in dictionary.values)


def entry_reference(token: str, *, display: bool = False) -> int | str | None:
    """What a link token names: an id (`(id)`, or bare digits unless `display`) or a name.

    None for an id that cannot be one (zero, or too large).
    """
    match = _LINK_ID.fullmatch(token)
    if match:
        return parse_id(match.group(1))
    if token.isascii() and token.isdigit() and not display:
        return parse_id(token)
    return token


def _parse_user(p: _Parse) -> StoredValue:
    user_id = p.resolver.user_id(p.text)
    if user_id is None:
        raise p.invalid()
    return user_id


def _parse_group(p: _Parse) -> StoredValue:
    group_id = p.resolver.group_id(p.text)
    if group_id is None:
        raise p.invalid()
    return group_id


_PARSERS: dict[FieldType, Callable[[_Parse], StoredValue]] = {
    FieldType.TEXT: _parse_text,
    FieldType.EMAIL: _parse_email,
    FieldType.URL: _parse_url,
    FieldType.NUMBER: _parse_number,
    FieldType.DATE: _parse_date,
    FieldType.CHECKBOX: _parse_checkbox,
    FieldType.DICTIONARY: _parse_dictionary,
    FieldType.POSITION: _parse_dictionary,
    FieldType.LINK: _parse_link,
    FieldType.USER: _parse_user,
    FieldType.GROUP: _parse_group,
}


def canonical_number(text: str) -> str | None:
    """`10`, `10.5` and `10,5` as one canonical decimal string; None if not a number."""
    if not _NUMBER.fullmatch(text):
        return None
    try:
        number = Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None
    rendered = format(number.normalize(_EXACT), "f")
    return "0" if rendered in ("-0", "+0") else rendered


def number_key(canonical: str) -> str:
    """An index key for a number whose text order is the numbers' order.

    Class (0 negative, 1 zero, 2 positive), then the decimal exponent, then the digits;
    for a negative number the exponent and digits are complemented and the digits end
    with "~", so that a larger magnitude sorts first. Index range scans then serve
    `lt`/`gt` filters and sorting, on every database, with one text column.
    """
    sign, digits, exponent = Decimal(canonical).normalize(_EXACT).as_tuple()
    if not digits or digits == (0,):
        return "1"
    assert isinstance(exponent, int)
    magnitude = len(digits) + exponent + 5000  # the adjusted exponent, made positive
    mantissa = "".join(map(str, digits))
    if not sign:
        return f"2{magnitude:05d}{mantissa}"
    complement = mantissa.translate(str.maketrans("0123456789", "9876543210"))
    return f"0{99999 - magnitude:05d}{complement}~"


def canonical_date(text: str) -> str | None:
    """`yyyy-MM-dd` or `dd.MM.yyyy` as an ISO date string; None if not a real date."""
    iso, dotted = _ISO_DATE.fullmatch(text), _DOTTED_DATE.fullmatch(text)
    if iso:
        year, month, day = iso.groups()
    elif dotted:
        day, month, year = dotted.groups()
    else:
        return None
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _tokens(text: str) -> list[str]:
    return [token.strip() for token in text.split(",") if token.strip()]


def _dictionary_id(field: Field) -> int:
    if field.dictionary_id is None:  # pragma: no cover - the schema guarantees it
        raise AccordError(f"Field {field.name} has no dictionary")
    return field.dictionary_id


def _target_id(field: Field) -> int:
    if field.target_directory_id is None:  # pragma: no cover - the schema guarantees it
        raise AccordError(f"Field {field.name} has no target directory")
    return field.target_directory_id


# Rendering (the legacy API's flat text form, legacy-api.md §3.2)


def render_flat(field: Field, entry: Entry, schema: Schema) -> str:
    """The text form of `field`'s value in `entry`; "" when empty."""
    kind = field.type
    if kind is FieldType.CONTACTS:
        return UNSUPPORTED
    if kind is FieldType.CREATOR:
        return entry.names.users.get(entry.created_by or 0, "")
    if kind is FieldType.CREATED_AT:
        return entry.created_at.strftime(CREATED_AT_FORMAT)
    value = entry.values.get(field.code)
    if value is None:
        return ""
    if kind is FieldType.CHECKBOX:
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return ",".join(_render_refs(field, _as_ids(value), schema, entry))


FlatField = tuple[str, Callable[[Entry], str]]


def flat_fields(schema: Schema, directory: Directory) -> list[FlatField]:
    """(code, render) for each field of a directory: `render_flat`, worked out once per
    schema, since a listing renders every field of every entry."""
    return schema.derived(_flat_fields, directory)


def _flat_fields(schema: Schema, directory: Directory) -> list[FlatField]:
    return [(f.code, _flat(f, schema)) for f in schema.fields_of(directory)]


def _flat(field: Field, schema: Schema) -> Callable[[Entry], str]:
    code = field.code
    if field.type in (
        FieldType.TEXT,
        FieldType.EMAIL,
        FieldType.URL,
        FieldType.NUMBER,
        FieldType.DATE,
    ):
        return lambda entry: entry.values.get(code) or ""  # type: ignore[return-value]
    return lambda entry: render_flat(field, entry, schema)


def _render_refs(field: Field, ids: Sequence[int], schema: Schema, entry: Entry) -> list[str]:
    names = entry.names
    if field.type in (FieldType.DICTIONARY, FieldType.POSITION):
        found = (schema.label(i) for i in ids)
    elif field.type is FieldType.LINK:
        target = _target_id(field)
        found = (names.entries.get((target, i)) for i in ids)
    elif field.type is FieldType.USER:
        found = (names.users.get(i) for i in ids)
    else:
        found = (names.groups.get(i) for i in ids)
    return [name for name in found if name is not None]


def _as_ids(value: StoredValue) -> list[int]:
    if isinstance(value, list):
        return value
    return [int(value)]


def referenced_ids(field: Field, value: StoredValue | None) -> list[int]:
    """The ids a reference field's value points at (entries, users, groups, labels)."""
    if value is None or field.type in (FieldType.TEXT, FieldType.EMAIL, FieldType.URL):
        return []
    if field.type in (FieldType.NUMBER, FieldType.DATE, FieldType.CHECKBOX):
        return []
    return _as_ids(value)


# Index keys and search


def index_keys(field: Field, value: StoredValue | None) -> list[str]:
    """The keys under which an entry is found by this field's value (none when empty)."""
    if value is None:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if field.type is FieldType.NUMBER and isinstance(value, str):
        return [number_key(value)]
    if isinstance(value, str):
        return [index_key(fold(value))]
    return [str(i) for i in _as_ids(value)]


SEARCHED_TYPES = (FieldType.TEXT, FieldType.EMAIL, FieldType.URL)
"""The fields whose values the text index holds (what `icontains` and `q` search)."""


def indexed_text(field: Field, value: StoredValue | None) -> str | None:
    """What the text index holds of this field's value: its search form (None: nothing,
    the field is not text or is empty)."""
    if field.type not in SEARCHED_TYPES or not isinstance(value, str) or not value:
        return None
    return search_form(value)


@dataclass(frozen=True, slots=True)
class Criterion:
    """One field compared with one value: every group must hold one of its keys, and
    when `exact`, the field holds nothing else.

    No groups means "the field is empty"; a group with no keys can match nothing.
    """

    field: Field
    groups: tuple[tuple[str, ...], ...]
    exact: bool = False

    @property
    def matches_empty(self) -> bool:
        return not self.groups


def criterion(field: Field, query: str, *, schema: Schema, lookup: Lookup) -> Criterion | None:
    """What `field = query` means, compared as the legacy API does (None: every entry
    matches it).

    Text with undecodable bytes or control characters is refused (InvalidValue). The query
    matches the rendered value case-insensitively; a link also matches by
    `(id)`. A multi-valued field matches when it holds exactly the comma-separated
    parts, in any order: each of them, and nothing else. The computed fields match
    their rendered values too: the creator's login, the moment of creation as rendered
    (`2026-11-28 14:05:09`, UTC, to the second), and the Contacts list's `Unsupported`.
    """
    if not field.type.is_stored:
        return _computed_criterion(field, query.strip(), lookup)
    text = query.strip()
    if not text:
        return Criterion(field, ())
    if has_invalid_characters(text):
        # Refused as a write refuses it (and as the REST API refuses such filter text),
        # not searched for: no value holds it, and a silent empty answer hides the error.
        raise InvalidValue(field.name, text)
    parts = _tokens(text) if field.multiple else [text]
    return Criterion(
        field,
        tuple(tuple(_search_keys(field, part, schema, lookup)) for part in parts),
        exact=field.multiple,
    )


CREATED_AT_FORMAT = "%Y-%m-%d %H:%M:%S"
"""How the moment an entry was created renders (UTC)."""


def _computed_criterion(field: Field, text: str, lookup: Lookup) -> Criterion | None:
    """The groups hold what the store compares: the creator's user id; the moment
    rendered, as ISO 8601."""
    if field.type is FieldType.CONTACTS:
        return None if fold(text) == fold(UNSUPPORTED) else Criterion(field, ((),))
    if field.type is FieldType.CREATOR:
        return Criterion(field, (tuple(_maybe(lookup.user_id(text))),) if text else ())
    try:
        moment = datetime.strptime(text, CREATED_AT_FORMAT)
    except ValueError:
        return Criterion(field, ((),))
    return Criterion(field, ((moment.isoformat(),),))


def _search_keys(field: Field, text: str, schema: Schema, lookup: Lookup) -> list[str]:
    kind = field.type
    if kind is FieldType.NUMBER:
        canonical = canonical_number(text)
        return [] if canonical is None else [number_key(canonical)]
    if kind is FieldType.DATE:
        return _maybe(canonical_date(text))
    if kind is FieldType.CHECKBOX:
        checked = _CHECKBOX.get(text.lower())
        return [] if checked is None else index_keys(field, checked)
    if kind in (FieldType.DICTIONARY, FieldType.POSITION):
        value = schema.dictionary(_dictionary_id(field)).find_value(text, by_id=False)
        return [] if value is None else [str(value.id)]
    if kind is FieldType.LINK:
        return _link_search_keys(field, text, schema, lookup)
    if kind is FieldType.USER:
        return _maybe(lookup.user_id(text))
    if kind is FieldType.GROUP:
        return _maybe(lookup.group_id(text))
    return [index_key(fold(text))]


def _link_search_keys(field: Field, text: str, schema: Schema, lookup: Lookup) -> list[str]:
    target = schema.directory(_target_id(field))
    match = _LINK_ID.fullmatch(text)
    if match:
        return _maybe(parse_id(match.group(1)))
    return [str(i) for i in lookup.entries_named(target, text)]


def _maybe(value: object | None) -> list[str]:
    return [] if value is None else [str(value)]
