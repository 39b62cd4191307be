from datetime import UTC, datetime

import orjson
import pytest

from accord.domain.entries import Entry, Names
from accord.domain.errors import FieldReadOnly, InvalidValue
from accord.domain.json_values import parse_json_value, render_json_value
from tests.unit.fakes import FIELDS, SCHEMA, MemoryLookup


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
