from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.domain.entries import Entry, Names
from accord.domain.errors import FieldReadOnly, InvalidValue
from accord.domain.values import (
    MAX_TEXT_LENGTH,
    canonical_date,
    canonical_number,
    criterion,
    entry_reference,
    index_keys,
    number_key,
    parse_value,
    render_flat,
)
from tests.unit.fakes import FIELDS, SCHEMA, MemoryLookup


def parse(field: str, raw: str, *, display: bool = False, lookup: MemoryLookup | None = None):
    return parse_value(
        FIELDS[field], raw, display=display, schema=SCHEMA, resolver=lookup or MemoryLookup()
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10", "10"),
        ("10.5", "10.5"),
        ("10,5", "10.5"),
        ("-3", "-3"),
        ("10.50", "10.5"),
        ("100", "100"),
        ("-0", "0"),
        ("abc", None),
        ("1e5", None),
        ("1.2.3", None),
        ("", None),
    ],
)
def test_numbers_read_with_a_point_or_a_comma(text: str, expected: str | None) -> None:
    assert canonical_number(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", "2026-01-31"),
        ("31.01.2026", "2026-01-31"),
        ("2026-02-30", None),
        ("20260131", None),
        ("01/31/2026", None),
    ],
)
def test_dates_read_iso_or_dotted(text: str, expected: str | None) -> None:
    assert canonical_date(text) == expected


def test_text_is_trimmed_and_an_empty_value_clears() -> None:
    assert parse("org_name", "  Acme  ") == "Acme"
    assert parse("org_name", "   ") is None


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("revenue", "ten"),
        ("founded", "yesterday"),
        ("vip", "maybe"),
        ("contact_email", "not an email"),
        ("org_www", "has space.com"),
        ("org_industry", "Mining"),
        ("services", "Development,Knitting"),
        ("org_name", "x" * (MAX_TEXT_LENGTH + 1)),
        ("org_name", "bad\x00byte"),
        ("org_name", b"\xff".decode("utf-8", "surrogateescape")),
        ("owner", "nobody"),
    ],
)
def test_values_that_do_not_fit_their_type_are_refused_by_name(field: str, raw: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        parse(field, raw)
    assert refused.value.message.startswith(f"Invalid value for field {FIELDS[field].name}: ")


def test_checkboxes_take_the_usual_words() -> None:
    assert [parse("vip", word) for word in ("yes", "ON", "1", "true")] == [True] * 4
    assert [parse("vip", word) for word in ("no", "Off", "0", "FALSE")] == [False] * 4


def test_dictionary_values_by_label_any_case_or_by_id_unless_display_text() -> None:
    assert parse("org_industry", "consulting") == 10
    assert parse("org_industry", "11") == 11
    with pytest.raises(InvalidValue):
        parse("org_industry", "11", display=True)


def test_multi_dictionary_values_are_comma_separated_without_repeats() -> None:
    assert parse("services", "Development, Training,development") == [20, 21]


def test_a_new_position_is_added_to_its_dictionary() -> None:
    lookup = MemoryLookup()
    assert parse("contact_position", "CEO", lookup=lookup) == 30
    assert parse("contact_position", "Chief Cat Herder", lookup=lookup) == 99
    assert lookup.positions == ["Chief Cat Herder"]


def test_links_by_parenthesised_id_bare_id_or_name() -> None:
    lookup = MemoryLookup({(1, 7): "Acme", (1, 9): "Globex"})
    assert parse("contact_company", "(7)", lookup=lookup) == 7
    assert parse("contact_company", "9", lookup=lookup) == 9
    assert parse("contact_company", "globex", lookup=lookup) == 9
    assert parse("partners", "(7),(9)", lookup=lookup) == [7, 9]
    with pytest.raises(InvalidValue):
        parse("partners", "(7),(8)", lookup=lookup)


def test_a_company_link_naming_a_missing_company_creates_it() -> None:
    lookup = MemoryLookup({(1, 7): "Acme"})
    assert parse("contact_company", "newCompany", lookup=lookup) == 8
    assert lookup.created == [("CLIENTS", "newCompany")]


def test_other_links_never_create_and_ids_must_exist() -> None:
    lookup = MemoryLookup({(1, 7): "Acme"})
    for raw in ("Nobody Inc", "(8)", "99999999999", "(0)"):
        with pytest.raises(InvalidValue):
            parse("partners", raw, lookup=lookup)
    assert lookup.created == []


def test_computed_fields_cannot_be_written() -> None:
    with pytest.raises(FieldReadOnly):
        parse("org_people", "x")


def test_entry_references() -> None:
    assert entry_reference("(12)") == 12
    assert entry_reference("12") == 12
    assert entry_reference("12", display=True) == "12"
    assert entry_reference("Acme") == "Acme"
    assert entry_reference("(0)") is None


def _entry(values: dict[str, object], names: Names | None = None) -> Entry:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Entry(1, 5, values, 1, at, 1, at, 1, names or Names())


def test_rendering_is_flat_text() -> None:
    names = Names(entries={(1, 7): "Acme", (1, 9): "Globex"}, users={2: "alice"})
    entry = _entry(
        {
            "org_industry": 10,
            "clients_field_s": [21, 20],
            "clients_field_v": False,
            "clients_field_r": "10.5",
            "clients_field_p": [7, 9],
            "clients_field_o": 2,
        },
        names,
    )
    shown = {key: render_flat(f, entry, SCHEMA) for key, f in FIELDS.items() if f.directory_id == 1}
    assert shown["org_industry"] == "Consulting"
    assert shown["services"] == "Training,Development"
    assert shown["vip"] == "false"
    assert shown["revenue"] == "10.5"
    assert shown["partners"] == "Acme,Globex"
    assert shown["owner"] == "alice"
    assert shown["org_name"] == shown["org_www"] == ""
    assert shown["org_people"] == "Unsupported"
    assert shown["created"] == "2026-01-02 03:04:05"


def test_removed_dictionary_values_and_deleted_links_render_as_nothing() -> None:
    entry = _entry({"org_industry": 12345, "clients_field_p": [7]})
    assert render_flat(FIELDS["org_industry"], entry, SCHEMA) == ""
    assert render_flat(FIELDS["partners"], entry, SCHEMA) == ""


def test_index_keys_fold_case_and_list_every_value() -> None:
    assert index_keys(FIELDS["org_name"], "ACME Inc") == ["acme inc"]
    assert index_keys(FIELDS["services"], [20, 21]) == ["20", "21"]
    assert index_keys(FIELDS["vip"], True) == ["true"]
    assert index_keys(FIELDS["org_name"], None) == []


def test_search_criteria_match_rendered_values() -> None:
    lookup = MemoryLookup({(1, 7): "Acme", (1, 8): "acme"})
    assert criterion(FIELDS["org_industry"], "CONSULTING", schema=SCHEMA, lookup=lookup).groups == (
        ("10",),
    )
    # A link matches by the linked entry's name (every entry of that name) or by (id).
    assert criterion(FIELDS["contact_company"], "Acme", schema=SCHEMA, lookup=lookup).groups == (
        ("7", "8"),
    )
    assert criterion(FIELDS["contact_company"], "(8)", schema=SCHEMA, lookup=lookup).groups == (
        ("8",),
    )
    # Multi-valued: every listed value must be present.
    assert criterion(
        FIELDS["services"], "Development,Training", schema=SCHEMA, lookup=lookup
    ).groups == (("20",), ("21",))
    assert criterion(FIELDS["revenue"], "10,50", schema=SCHEMA, lookup=lookup).groups == (
        (number_key("10.5"),),
    )


def test_an_empty_search_value_means_an_empty_field_and_a_misfit_matches_nothing() -> None:
    lookup = MemoryLookup()
    assert criterion(FIELDS["org_www"], "", schema=SCHEMA, lookup=lookup).matches_empty
    assert criterion(FIELDS["revenue"], "ten", schema=SCHEMA, lookup=lookup).groups == ((),)
    assert criterion(FIELDS["org_industry"], "Mining", schema=SCHEMA, lookup=lookup).groups == ((),)


@given(
    st.lists(
        st.decimals(
            min_value=-(10**20), max_value=10**20, places=6, allow_nan=False, allow_infinity=False
        ),
        min_size=2,
    )
)
def test_number_keys_sort_as_the_numbers_do(numbers: list[Decimal]) -> None:
    canonical = [canonical_number(format(n, "f")) for n in numbers]
    texts = [c for c in canonical if c is not None]
    assert sorted(texts, key=number_key) == sorted(texts, key=Decimal)
    assert len({number_key(t) for t in texts}) == len({Decimal(t) for t in texts})
