"""Field values as a page shows them (text, with a link where there is one) and as an
edit form carries them (text, or dictionary value ids), and form values back as inputs
of the entry services."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from accord.domain.entries import Entry, parse_id
from accord.domain.json_values import JsonInput
from accord.domain.schema import CONTACTS, Directory, Field, FieldType, Schema
from accord.domain.values import RawValue, referenced_ids
from accord.services.entries import Inputs
from accord.web import texts

DICTIONARIES = (FieldType.DICTIONARY, FieldType.POSITION)
MULTI_SEPARATOR = ","
PICK_PREFIX = "pick."
"""A link picker's hidden inputs: `pick.CODE` = `id:name`, one per entry chosen."""
Picks = Mapping[str, Mapping[str, int]]
"""The entries link pickers chose: by field code, each name chosen to its entry's id."""


@dataclass(frozen=True, slots=True)
class Item:
    """One value as shown: its text, and where it links to (None: plain text)."""

    text: str
    href: str | None = None


def entry_url(directory: Directory, entry_id: int | None = None, then: str = "") -> str:
    base = f"/d/{quote(directory.code, safe='')}"
    return base if entry_id is None else f"{base}/{entry_id}{then}"


def safe_href(url: str) -> str | None:
    """Where a URL field's value may link: http(s) only; a bare host is taken as https."""
    lowered = url.strip().lower()
    if lowered.startswith(("https://", "http://")):
        return url.strip()
    head = lowered.split("/", 1)[0]
    if ":" in head or not head or lowered.startswith(("/", "\\")):
        return None  # another scheme (javascript:, data:) or not a host: shown as text
    return "https://" + url.strip()


def shown(field: Field, entry: Entry, schema: Schema) -> list[Item]:
    """The items `field`'s value in `entry` shows (none when empty)."""
    kind = field.type
    if kind is FieldType.CONTACTS:
        contacts = schema.directory_by_code(CONTACTS)
        found = entry.names.contacts.get(entry.id, ())
        return [Item(name, entry_url(contacts, i)) for i, name in found]
    if kind is FieldType.CREATOR:
        login = entry.names.users.get(entry.created_by or 0)
        return [] if login is None else [Item(login)]
    if kind is FieldType.CREATED_AT:
        return [Item(entry.created_at.strftime("%Y-%m-%d %H:%M UTC"))]
    value = entry.values.get(field.code)
    if value is None:
        return []
    if kind is FieldType.CHECKBOX:
        return [Item(texts.YES if value else texts.NO)]
    if isinstance(value, str):
        if kind is FieldType.EMAIL:
            return [Item(value, "mailto:" + value)]
        if kind is FieldType.URL:
            return [Item(value, safe_href(value))]
        return [Item(value)]
    return _references(field, referenced_ids(field, value), entry, schema)


def entry_title(schema: Schema, directory: Directory, entry: Entry) -> str:
    """An entry's name as a page's title shows it (`#id` when it has none)."""
    items = shown(schema.name_field(directory), entry, schema)
    return items[0].text if items else f"#{entry.id}"


def _references(field: Field, ids: Sequence[int], entry: Entry, schema: Schema) -> list[Item]:
    names = entry.names
    items: list[Item] = []
    for ref_id in ids:
        if field.type in DICTIONARIES:
            label = schema.label(ref_id)
            items.extend([] if label is None else [Item(label)])
        elif field.type is FieldType.LINK:
            assert field.target_directory_id is not None
            target = schema.directory(field.target_directory_id)
            name = names.entries.get((target.id, ref_id))
            items.extend([] if name is None else [Item(name, entry_url(target, ref_id))])
        else:
            found = (names.users if field.type is FieldType.USER else names.groups).get(ref_id)
            items.extend([] if found is None else [Item(found)])
    return items


# Edit forms


def editable(schema: Schema, directory: Directory) -> list[Field]:
    """The fields an edit form offers: those entries hold (the others are computed)."""
    return [f for f in schema.fields_of(directory) if f.type.is_stored]


def form_value(field: Field, entry: Entry | None, schema: Schema) -> str:
    """What the form's control for `field` holds for `entry` (several dictionary value
    ids joined by commas; a checkbox "on" or ""); "" for a new entry."""
    value = None if entry is None else entry.values.get(field.code)
    if value is None:
        return ""
    if field.type is FieldType.CHECKBOX:
        return "on" if value else ""
    if isinstance(value, str):
        return value
    if field.type in DICTIONARIES:
        return MULTI_SEPARATOR.join(str(i) for i in referenced_ids(field, value))
    assert entry is not None
    return MULTI_SEPARATOR.join(item.text for item in shown(field, entry, schema))


def typed_value(field: Field, pairs: Sequence[tuple[str, str]]) -> str:
    """What the form sent for `field`, in `form_value`'s form."""
    sent = [value for name, value in pairs if name == f"f.{field.code}"]
    if field.type in DICTIONARIES and field.multiple:
        return MULTI_SEPARATOR.join(v for v in sent if v)
    if field.type is FieldType.CHECKBOX:
        return "on" if sent and sent[-1] else ""
    return sent[-1] if sent else ""


def picked(fields: Sequence[Field], pairs: Sequence[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """What the link pickers of a form chose (`Picks`); ill-formed ones are left out."""
    links = {f.code for f in fields if f.type is FieldType.LINK}
    found: dict[str, dict[str, int]] = {}
    for name, value in pairs:
        code = name.removeprefix(PICK_PREFIX)
        digits, _, label = value.partition(":")
        entry_id = parse_id(digits)
        if name.startswith(PICK_PREFIX) and code in links and entry_id and label.strip():
            found.setdefault(code, {})[label.strip()] = entry_id
    return found


def changed_inputs(
    fields: Sequence[Field],
    typed: Mapping[str, str],
    was: Mapping[str, str] | None,
    picks: Picks | None = None,
) -> Inputs:
    """The service inputs of the fields whose typed value differs from what the form was
    given (`was`; None for a new entry: every field that is not empty), or that name an
    entry a picker chose (by its id, so that a name two entries share is the one chosen)."""
    inputs = []
    for field in fields:
        text = typed.get(field.code, "")
        chosen = with_picks(field, text, (picks or {}).get(field.code, {}))
        unchanged = text == "" if was is None else _same(field, text, was.get(field.code, ""))
        if not unchanged or chosen != text:
            inputs.append((field, _input(field, chosen)))
    return inputs


def with_picks(field: Field, text: str, names: Mapping[str, int]) -> str:
    """A link field's text with each name a picker chose (and still there, as chosen)
    written as its entry's id, `(id)`; the text itself when it holds none."""
    if not names or field.type is not FieldType.LINK:
        return text
    if text.strip() in names:
        return f"({names[text.strip()]})"
    tokens = [t.strip() for t in text.split(MULTI_SEPARATOR) if t.strip()]
    if not field.multiple or not any(t in names for t in tokens):
        return text
    return ", ".join(f"({names[t]})" if t in names else t for t in tokens)


def _same(field: Field, typed: str, was: str) -> bool:
    if field.type in DICTIONARIES and field.multiple:  # a select gives its own order
        return sorted(typed.split(MULTI_SEPARATOR)) == sorted(was.split(MULTI_SEPARATOR))
    return typed == was


def _input(field: Field, text: str) -> RawValue | JsonInput:
    if field.type is FieldType.CHECKBOX:
        return JsonInput(text == "on")
    if field.type in DICTIONARIES and text:
        tokens = [t for t in text.split(MULTI_SEPARATOR) if t] if field.multiple else [text]
        values = [
            {"id": int(t)} if t.isascii() and t.isdigit() and len(t) <= 10 else t for t in tokens
        ]
        return JsonInput(values if field.multiple else values[0])
    return RawValue(text)
