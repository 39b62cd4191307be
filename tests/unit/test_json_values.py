import functools
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from accord.domain.entries import Entry, Names
from accord.domain.errors import FieldReadOnly, InvalidValue
from accord.domain.json_values import json_fields, parse_json_value, render_json_value
from accord.domain.schema import Dictionary, DictionaryValue, Schema
from tests.unit.fakes import COMPANIES, CONTACTS, FIELDS, SCHEMA, MemoryLookup


def parse(field: str, value: object, lookup: MemoryLookup | None = None):
    return parse_json_value(FIELDS[field], value, schema=SCHEMA, resolver=lookup or MemoryLookup())


def test_typed_values_are_read_as_their_type() -> None:
    assert parse("revenue", 10.5) == "10.5"
    assert parse("revenue", 10) == "10"
    assert parse("revenue", "10,5") == "10.5"
    assert parse("vip", False) is False
    assert parse("founded", "2026-01-31") == "2026-01-31"
    assert parse("org_name", None) is None


def test_references_by_label_name_or_id() -> None:
    lookup = MemoryLookup({(1, 7): "Acme", (1, 123): "Numbers Inc", (1, 5): "123"})
    assert parse("org_industry", "Retail") == 11
    assert parse("org_industry", 10) == 10
    assert parse("org_industry", {"label": "Consulting"}) == 10
    assert parse("services", ["Training", {"id": 20}, "training"]) == [21, 20]
    assert parse("partners", [7, {"name": "123"}], lookup) == [7, 5]
    assert parse("contact_company", {"id": 7}, lookup) == 7
    assert parse("contact_company", "Acme", lookup) == 7


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("revenue", True),
        ("revenue", "ten"),
        ("vip", "maybe"),
        ("org_name", 5),
        ("services", "Training"),
        ("org_industry", {"id": 1, "name": "x"}),
        ("founded", 20260131),
        ("partners", [99]),
        ("org_name", ["a"]),
    ],
)
def test_values_of_the_wrong_shape_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidValue):
        parse(field, value, MemoryLookup({(1, 7): "Acme"}))


def test_an_id_object_names_a_value_by_its_id_only() -> None:
    # "10" is the id of the value "x" and the label of the value 11
    lookalike = Dictionary(
        1, "Industry", (DictionaryValue(10, 1, "x"), DictionaryValue(11, 1, "10"))
    )
    schema = Schema(1, SCHEMA.directories, SCHEMA.fields, (lookalike, *SCHEMA.dictionaries[1:]))
    industry, lookup = FIELDS["org_industry"], MemoryLookup({(1, 7): "Acme", (1, 8): "7"})
    assert parse_json_value(industry, {"id": 10}, schema=schema, resolver=lookup) == 10
    assert parse_json_value(industry, 10, schema=schema, resolver=lookup) == 11  # label first
    assert parse("contact_company", {"id": 7}, lookup) == 7
    assert parse("contact_company", {"id": 7, "name": "Other"}, lookup) == 7  # as read


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("org_industry", {"id": 12}),
        ("org_industry", {"id": "10"}),
        ("org_industry", {"id": "Retail"}),
        ("org_industry", {"id": 0}),
        ("org_industry", {"id": True}),
        ("org_industry", {"id": 10.0}),
        ("contact_position", {"id": 31}),
        ("contact_company", {"id": 8}),
        ("contact_company", {"id": "7"}),
        ("contact_company", {"id": "Acme"}),
        ("contact_company", {"id": 2**31}),
        ("partners", [{"id": 7}, {"id": 9}]),
    ],
)
def test_an_id_object_naming_nothing_is_refused_and_creates_nothing(
    field: str, value: object
) -> None:
    lookup = MemoryLookup({(1, 7): "Acme"})
    with pytest.raises(InvalidValue):
        parse(field, value, lookup)
    assert (lookup.created, lookup.positions) == ([], [])


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (["\ud800"], '["\ufffd"]'),
        ({"\udfff": 1}, '{"\ufffd":1}'),
        ([Decimal("1.50"), 2, None, True], "[1.50,2,null,true]"),
        (functools.reduce(lambda inner, _: [inner], range(10_000), []), "[" * 200 + "…"),
    ],
)
def test_a_refused_value_is_shown_as_json_whatever_it_holds(value: object, shown: str) -> None:
    # Lone surrogates (a JSON escape may write one) and a nesting deeper than any encoder
    # takes are shown as messages show text: U+FFFD, and cut after 200 characters.
    with pytest.raises(InvalidValue) as refused:
        parse("org_name", value)
    assert refused.value.message == f"Invalid value for field Company name: {shown}"
    orjson.dumps(refused.value.message)  # a reply can carry it


def test_computed_fields_are_read_only() -> None:
    with pytest.raises(FieldReadOnly):
        parse("org_people", [])


def test_rendering_is_typed() -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    names = Names(entries={(1, 7): "Acme"}, users={2: "alice"}, contacts={5: [(3, "Ann")]})
    entry = Entry(
        1,
        5,
        {
            "clients_field_r": "12345678901234567890.5",
            "clients_field_v": True,
            "clients_field_s": [21],
            "clients_field_p": [7, 8],
            "clients_field_o": 2,
            "org_industry": 10,
        },
        1,
        at,
        2,
        at,
        2,
        names,
    )
    shown = {
        key: render_json_value(f, entry, SCHEMA) for key, f in FIELDS.items() if f.directory_id == 1
    }
    raw = orjson.dumps(shown).decode()
    assert '"revenue":12345678901234567890.5' in raw  # exactly, not via a float
    assert shown["vip"] is True
    assert shown["services"] == ["Training"]
    assert shown["partners"] == [{"id": 7, "name": "Acme"}]  # 8 was deleted
    assert shown["owner"] == "alice"
    assert shown["org_industry"] == "Consulting"
    assert shown["org_name"] is None
    assert shown["org_people"] == [{"id": 3, "name": "Ann"}]
    assert shown["created"] == at.isoformat()


STORED_SAMPLES: list[object] = [
    None,
    "text",
    "2026-01-31",
    "10.5",
    True,
    False,
    10,
    11,
    99,
    [21],
    [20, 21],
    [99, 20],
    [],
    7,
    [7, 8],
]
"""Stored values of every shape, some that no label or entry answers (99, 8)."""


@pytest.mark.parametrize("value", STORED_SAMPLES)
def test_each_fields_renderer_renders_as_render_json_value_does(value: object) -> None:
    # A page renders through `json_fields`, worked out once per schema; it must agree
    # with the rule as written, field by field, whatever the value's shape.
    at = datetime(2026, 1, 2, tzinfo=UTC)
    names = Names(entries={(1, 7): "Acme"}, users={2: "alice"}, contacts={5: [(3, "Ann")]})
    for directory in (COMPANIES, CONTACTS):
        fields = SCHEMA.fields_of(directory)
        values = {f.code: value for f in fields if value is not None}
        entry = Entry(directory.id, 5, values, 1, at, 2, at, 2, names)  # type: ignore[arg-type]
        for f, (code, render) in zip(fields, json_fields(SCHEMA, directory), strict=True):
            assert code == f.code
            try:
                expected = render_json_value(f, entry, SCHEMA)
            except (TypeError, ValueError) as error:
                with pytest.raises(type(error)):
                    render(entry)
                continue
            assert orjson.dumps(render(entry)) == orjson.dumps(expected), (f.code, value)
