"""The write rules every path follows (one by one, batches, the bench's loader)."""

from dataclasses import replace
from datetime import UTC, datetime

from accord.domain.entries import Entry, Names, StoredValue
from accord.domain.errors import AccordError, FieldRequired, InvalidValue
from accord.domain.writes import (
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
from tests.unit.fakes import COMPANIES, CONTACTS, FIELDS, SCHEMA

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _entry(values: dict[str, StoredValue], *, number: int = 5, names: Names | None = None) -> Entry:
    return Entry(COMPANIES.id, number, values, 1, AT, 1, AT, 1, names or Names())


def _errors(found: list[tuple[str, AccordError]]) -> list[tuple[str, str, str]]:
    return [(code, error.code, error.message) for code, error in found]


def test_an_entry_is_named_by_its_name_field_and_found_by_its_compact_form() -> None:
    assert entry_name(COMPANIES, {"org_name": "Acme Corp", "org_www": "acme.example"}) == (
        "Acme Corp"
    )
    assert entry_name(COMPANIES, {"org_www": "acme.example"}) == ""
    assert entry_name(COMPANIES, {"org_name": None}) == ""
    assert name_key("  Acme   CORP ") == name_key("acmecorp") == "acmecorp"
    assert name_key("Acme Corp") != name_key("Acme Co")


def test_a_long_name_gets_a_bounded_key_that_still_tells_names_apart() -> None:
    long_a, long_b = "A" * 300, "A" * 299 + "B"
    assert len(name_key(long_a)) == 200
    assert name_key(long_a) != name_key(long_b)


def test_a_new_entry_holds_no_empty_values() -> None:
    parsed: dict[str, StoredValue | None] = {
        "org_name": "Acme",
        "org_www": None,
        "clients_field_v": False,
    }
    assert new_values(parsed) == {"org_name": "Acme", "clients_field_v": False}


def test_computed_fields_hold_no_values() -> None:
    codes = [f.code for f in stored_fields(SCHEMA, COMPANIES)]
    assert "org_people" not in codes  # Contacts
    assert "clients_field_c" not in codes  # Created
    assert codes[:3] == ["org_name", "org_industry", "org_www"]


def test_a_missing_required_field_is_named_with_its_display_name() -> None:
    fields = SCHEMA.fields_of(COMPANIES)
    assert _errors(missing_required(fields, {"org_www": "a.example"})) == [
        ("org_name", "field_required", "Parameter Company name is required")
    ]
    assert missing_required(fields, {"org_name": "Acme"}) == []


def test_a_required_field_whose_value_was_refused_is_not_also_missing() -> None:
    refused: list[tuple[str, AccordError]] = [
        ("org_name", InvalidValue("Company name", "\x00").about("org_name"))
    ]
    assert missing_required(SCHEMA.fields_of(COMPANIES), {}, refused) == []


def test_clearing_a_required_field_is_an_invalid_value() -> None:
    fields = SCHEMA.fields_of(CONTACTS)
    assert _errors(cleared_required(fields, {"contact_name": None, "contact_email": None})) == [
        ("contact_name", "invalid_value", "Invalid value for field Full name: ")
    ]
    assert cleared_required(fields, {"contact_email": None}) == []
    # A required field left out of an update keeps its value: nothing to refuse.
    assert cleared_required(fields, {"contact_email": "a@b.example"}) == []


def test_every_missing_required_field_is_reported_at_once() -> None:
    fields = [FIELDS["org_name"], FIELDS["org_industry"], replace(FIELDS["org_www"], required=True)]
    found = missing_required(fields, {"org_industry": 10})
    assert [(code, type(error)) for code, error in found] == [
        ("org_name", FieldRequired),
        ("org_www", FieldRequired),
    ]


def test_an_update_changes_only_the_values_that_differ() -> None:
    current: dict[str, StoredValue] = {
        "org_name": "Acme",
        "org_www": "acme.example",
        "clients_field_v": True,
    }
    change = diff(
        SCHEMA,
        COMPANIES,
        current,
        {"org_name": "Acme", "org_www": None, "clients_field_v": False, "clients_field_r": "10"},
    )
    assert [f.code for f in change.fields] == ["org_www", "clients_field_v", "clients_field_r"]
    assert change.values == {"org_name": "Acme", "clients_field_v": False, "clients_field_r": "10"}
    assert not change.renames(COMPANIES)
    assert current["org_www"] == "acme.example"  # the entry as it was is left alone


def test_an_update_that_changes_nothing_has_no_fields() -> None:
    change = diff(SCHEMA, COMPANIES, {"org_name": "Acme"}, {"org_name": "Acme", "org_www": None})
    assert change.fields == []
    assert change.values == {"org_name": "Acme"}


def test_an_update_of_the_name_renames() -> None:
    change = diff(SCHEMA, COMPANIES, {"org_name": "Acme"}, {"org_name": "Acme Corp"})
    assert change.renames(COMPANIES)
    assert entry_name(COMPANIES, change.values) == "Acme Corp"


def test_a_new_entry_records_each_value_it_holds_as_the_legacy_api_shows_it() -> None:
    names = Names(entries={(1, 7): "Globex"})
    entry = _entry(
        {"org_name": "Acme", "org_industry": 11, "clients_field_p": [7], "clients_field_v": True},
        names=names,
    )
    assert creation_history(SCHEMA, COMPANIES, entry) == [
        (5, "create", "org_name", None, "Acme"),
        (5, "create", "org_industry", None, "Retail"),
        (5, "create", "clients_field_v", None, "true"),
        (5, "create", "clients_field_p", None, "Globex"),
    ]


def test_a_new_entry_without_values_records_one_row_without_a_field() -> None:
    assert creation_history(SCHEMA, COMPANIES, _entry({}, number=8)) == [
        (8, "create", None, None, None)
    ]


def test_an_update_records_old_and_new_of_each_changed_field() -> None:
    before = _entry({"org_name": "Acme", "clients_field_s": [20]})
    after = _entry({"org_name": "Acme Corp", "clients_field_s": [20, 21]})
    fields = [FIELDS["org_name"], FIELDS["services"]]
    assert update_history(SCHEMA, COMPANIES, fields, before, after) == [
        (5, "update", "org_name", "Acme", "Acme Corp"),
        (5, "update", "clients_field_s", "Development", "Development,Training"),
    ]
    assert update_history(SCHEMA, COMPANIES, [], before, after) == []


def test_a_deletion_records_the_name_the_entry_had() -> None:
    assert deletion_history(SCHEMA, COMPANIES, _entry({"org_name": "Acme"})) == (
        5,
        "delete",
        None,
        "Acme",
        None,
    )


def test_a_value_is_shown_as_text_in_messages() -> None:
    assert shown("Acme") == "Acme"
    assert shown(12) == "12"
