from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accord.domain.errors import InvalidQuery
from accord.domain.filters import Compare, parse_filter
from accord.domain.query import (
    NO_ENTRY,
    Both,
    ColumnIs,
    Either,
    HasValue,
    KeyPrefix,
    KeyRange,
    KeysIn,
    Negate,
    SortKey,
    TextContains,
    TextHas,
    bind,
    decode_cursor,
    encode_cursor,
    fingerprint,
    name_starts_with,
    parse_sort,
    search_text,
    starting_with,
)
from accord.domain.values import number_key
from tests.unit.fakes import COMPANIES, FIELDS, SCHEMA, MemoryLookup

LOOKUP = MemoryLookup({(1, 7): "Acme", (1, 8): "ACME", (1, 9): "Globex"})


def bound(text: str):
    return bind(parse_filter(text), COMPANIES, SCHEMA, LOOKUP)


def fid(name: str) -> int:
    return FIELDS[name].id


def test_comparisons_become_index_lookups_in_key_form() -> None:
    assert bound("org_name eq 'ACME Inc'") == KeysIn(fid("org_name"), ("acme inc",))
    assert bound("org_name ne 'x'") == Negate(KeysIn(fid("org_name"), ("x",)))
    assert bound("clients_field_r gt 10.5") == KeyRange(fid("revenue"), "gt", number_key("10.5"))
    assert bound("clients_field_d le '2026-01-31'") == KeyRange(fid("founded"), "le", "2026-01-31")
    assert bound("org_name startswith 'Ac'") == KeyPrefix(fid("org_name"), "ac")
    assert bound("org_www contains 'Acme'") == Both(
        (TextHas((fid("org_www"),), "acme"), TextContains("org_www", "Acme"))
    )
    assert bound("org_www icontains 'Acme'") == TextHas((fid("org_www"),), "acme")
    # Cyrillic look-alikes read as Latin (the "С" of "Сompany" is Cyrillic), "ß" as "ss".
    assert bound("org_www icontains 'Сompany Straße'") == TextHas(
        (fid("org_www"),), "company strasse"
    )
    assert bound("org_www is null") == Negate(HasValue(fid("org_www")))
    assert bound("clients_field_v eq true") == KeysIn(fid("vip"), ("true",))


def test_labels_names_and_ids() -> None:
    assert bound("org_industry in ('retail', 'Consulting')") == KeysIn(
        fid("org_industry"), ("11", "10")
    )
    assert bound("clients_field_p eq 'acme'") == KeysIn(fid("partners"), ("7", "8"))
    assert bound("clients_field_p eq 9") == KeysIn(fid("partners"), ("9",))
    assert bound("clients_field_p eq 'Nobody'") == KeysIn(fid("partners"), ())
    assert bound("clients_field_o eq 'alice'") == KeysIn(fid("owner"), ("2",))


def test_system_columns() -> None:
    assert bound("id ge 5") == ColumnIs("number", "ge", (5,))
    assert bound("id in (1, 2)") == ColumnIs("number", "in", (1, 2))
    assert bound("created_at lt '2026-01-01T00:00:00+00:00'") == ColumnIs(
        "created_at", "lt", (datetime.fromisoformat("2026-01-01T00:00:00+00:00"),)
    )


def moment_in(text: str) -> datetime:
    """The time a filter on one system column compares with."""
    condition = bound(text)
    assert isinstance(condition, ColumnIs)
    [moment] = condition.values
    assert isinstance(moment, datetime)
    return moment


def test_a_time_is_read_at_its_offset_in_utc_and_without_one_is_utc() -> None:
    offset = moment_in("created_at gt '2026-11-28T14:00:00+01:00'")
    assert offset == datetime(2026, 11, 28, 13, 0, tzinfo=UTC)
    assert offset.utcoffset() == timedelta(0)
    for text in ("2026-11-28T13:00:00", "2026-11-28 13:00", "2026-11-28T13:00:00Z"):
        moment = moment_in(f"updated_at le '{text}'")
        assert moment == datetime(2026, 11, 28, 13, tzinfo=UTC)
        assert moment.utcoffset() == timedelta(0)
    assert moment_in("created_at ge '2026-11-28'") == datetime(2026, 11, 28, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("created_at gt '0001-01-01T00:00:00+01:00'", "'created_at' takes moments of the years"),
        ("updated_at lt '9999-12-31T23:59:59-00:01'", "'updated_at' takes moments of the years"),
        ("created_at in ('2026-01-01', '0001-01-01T00:00+00:01')", "'created_at' takes moments"),
    ],
)
def test_a_time_outside_the_years_utc_holds_is_refused_naming_it(text: str, start: str) -> None:
    with pytest.raises(InvalidQuery, match=r"years 1 to 9999 in UTC, not '(0001|9999)-") as error:
        bound(text)
    assert error.value.message.startswith(start)
    assert moment_in("created_at gt '0001-01-01T00:00:00-01:00'").year == 1
    assert moment_in("created_at lt '9999-12-31T23:59:59+01:00'").year == 9999


ALL = Negate(NO_ENTRY)


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ("id eq 2147483647", ColumnIs("number", "eq", (2**31 - 1,))),
        ("id eq 2147483648", NO_ENTRY),
        ("id eq 0", NO_ENTRY),
        ("id ne 99999999999999999999", ALL),
        ("id lt 2147483648", ALL),
        ("id le -1", NO_ENTRY),
        ("id gt -5000000000", ALL),
        ("id ge 9223372036854775808", NO_ENTRY),
        ("id in (0, 1, 2147483648, 7)", ColumnIs("number", "in", (1, 7))),
        ("id in (0, -1, 2147483648)", NO_ENTRY),
        ("id is null", NO_ENTRY),
        ("id is not null", ALL),
    ],
)
def test_an_id_no_entry_can_have_is_decided_without_the_database(
    text: str, condition: object
) -> None:
    assert bound(text) == condition


@pytest.mark.parametrize(
    "text",
    [
        "org_name eq '{}'",
        "org_name ne 'a{}'",
        "org_name in ('Acme', '{}')",
        "org_name contains '{}'",
        "org_name icontains '{}'",
        "org_name startswith '{}'",
        "org_name lt '{}'",
        "org_industry eq '{}'",
        "clients_field_p eq '{}'",
        "clients_field_o eq '{}'",
        "clients_field_d eq '{}'",
        "id eq '{}'",
        "updated_at ge '{}'",
        "nope eq '{}'",
    ],
)
@pytest.mark.parametrize(("character", "shown"), [("\ud800", "\ufffd"), ("\x00", "\x00")])
def test_text_no_value_can_hold_is_refused_whatever_the_operator(
    text: str, character: str, shown: str
) -> None:
    with pytest.raises(InvalidQuery) as error:
        bound(text.format(character))
    assert error.value.message.startswith("Value '")
    assert error.value.message.endswith(
        "holds undecodable text or control characters, which no value can hold"
    )
    assert shown in error.value.message
    assert "\ud800" not in error.value.message


def test_q_with_text_no_value_can_hold_is_refused() -> None:
    with pytest.raises(InvalidQuery, match=r"^'q' holds undecodable text") as error:
        search_text(COMPANIES, SCHEMA, "Ac\ud800me")
    assert error.value.message.endswith(": 'Ac\ufffdme'")
    fields = (fid("org_name"), fid("org_www"))
    assert search_text(COMPANIES, SCHEMA, " Acme\t") == TextHas(fields, "acme")


def test_q_finds_every_word_and_ranks_names_that_start_with_them() -> None:
    fields = (fid("org_name"), fid("org_www"))
    assert search_text(COMPANIES, SCHEMA, " Acme  Сorp acme") == Both(
        (TextHas(fields, "acme"), TextHas(fields, "corp"))
    )
    assert name_starts_with(COMPANIES, SCHEMA, " Acme  Сorp") == TextHas(
        (fid("org_name"),), "acme corp", at_start=True
    )
    with pytest.raises(InvalidQuery, match="at most 8 words"):
        search_text(COMPANIES, SCHEMA, "a b c d e f g h i")


def test_the_first_rank_of_q_leaves_out_the_words_the_start_of_the_name_holds() -> None:
    name, www = fid("org_name"), fid("org_www")
    starts = name_starts_with(COMPANIES, SCHEMA, "acme corp")
    assert starting_with(search_text(COMPANIES, SCHEMA, "acme corp"), starts) == starts
    # A filter, a piece of another field only, and a word the start does not hold stay.
    other = (
        KeysIn(fid("org_industry"), ("1",)),
        TextHas((www,), "acme"),
        TextHas((name, www), "acmes"),
        TextHas((name, www), "corp"),
    )
    assert starting_with(Both(other), starts) == Both((*other[:3], starts))
    assert starting_with(TextHas((name,), "me co"), starts) == starts


def test_a_field_name_with_undecodable_text_is_unknown_and_shown_as_messages_show_it() -> None:
    with pytest.raises(InvalidQuery) as error:
        bind(Compare("org_\udc80", "eq", "x"), COMPANIES, SCHEMA, LOOKUP)
    assert error.value.message == "Unknown field 'org_\ufffd' in Companies"
    with pytest.raises(InvalidQuery) as error:
        parse_sort("org_name,\ud800", COMPANIES, SCHEMA)
    assert error.value.message == "Unknown field '\ufffd' in Companies"


def test_a_dictionary_value_id_is_whole() -> None:
    assert bound("org_industry eq 10.0") == KeysIn(fid("org_industry"), ("10",))
    for text, message in [
        ("org_industry eq 10.5", "Field 'org_industry' takes labels or whole value ids, not 10.5"),
        (
            "org_industry in (10, 11.1)",
            "Field 'org_industry' takes labels or whole value ids, not 11.1",
        ),
        (
            "clients_field_s ne 0.5",
            "Field 'clients_field_s' takes labels or whole value ids, not 0.5",
        ),
    ]:
        with pytest.raises(InvalidQuery) as error:
            bound(text)
        assert error.value.message == message


def test_combinations_keep_their_shape() -> None:
    assert bound("id eq 1 and (id eq 2 or not id eq 3)") == Both(
        (
            ColumnIs("number", "eq", (1,)),
            Either((ColumnIs("number", "eq", (2,)), Negate(ColumnIs("number", "eq", (3,))))),
        )
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour eq 'red'", "Unknown field 'colour'"),
        ("org_people eq 'x'", "computed"),
        ("clients_field_r eq 'ten'", "takes numbers"),
        ("clients_field_d eq '31/01/2026'", "takes dates"),
        ("clients_field_v eq 'yes'", "takes true or false"),
        ("org_industry eq 'Mining'", "not found in dictionary 'Industry'"),
        ("org_industry gt 'x'", "no order"),
        ("clients_field_s lt 'x'", "no order"),
        ("clients_field_r contains '1'", "applies to text fields"),
        ("org_name eq 5", "takes text values"),
        ("id eq 'x'", "whole numbers"),
        ("id contains '1'", "does not apply"),
        ("updated_at gt 'yesterday'", "ISO 8601"),
    ],
)
def test_what_cannot_be_asked_is_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        bound(text)


def test_sorting_ends_with_the_id_and_refuses_what_has_no_order() -> None:
    keys = parse_sort("-org_name,clients_field_r", COMPANIES, SCHEMA)
    assert [(k.name, k.descending) for k in keys] == [
        ("org_name", True),
        ("clients_field_r", False),
        ("id", False),
    ]
    assert parse_sort("-id", COMPANIES, SCHEMA) == (SortKey(None, "number", True),)
    for bad, message in [
        ("clients_field_s", "cannot be sorted"),
        ("x", "Unknown field"),
        ("id,id", "twice"),
        ("org_name,,id", "Empty"),
        ("org_name,org_www,clients_field_r,clients_field_d,created_at", "At most"),
    ]:
        with pytest.raises(InvalidQuery, match=message):
            parse_sort(bad, COMPANIES, SCHEMA)


def test_cursors_round_trip_and_belong_to_one_query() -> None:
    sort = parse_sort("-org_name,created_at", COMPANIES, SCHEMA)
    key = fingerprint("CLIENTS", "filter", "", repr(sort))
    moment = datetime.fromisoformat("2026-01-02T03:04:05+00:00")
    cursor = encode_cursor(("acme", moment, 12), key)
    assert decode_cursor(cursor, key, sort) == ("acme", moment, 12)
    with pytest.raises(InvalidQuery, match="another query"):
        decode_cursor(cursor, fingerprint("CLIENTS", "other"), sort)
    for garbage in ("", "%%%", "bm90IGpzb24", cursor[:-3]):
        with pytest.raises(InvalidQuery):
            decode_cursor(garbage, key, sort)
    assert Decimal(1) == 1  # cursor values are plain JSON: no Decimal sneaks in


def test_a_cursor_holds_only_positions_an_entry_can_have() -> None:
    sort = parse_sort("created_at", COMPANIES, SCHEMA)  # then the id
    key = fingerprint("CLIENTS", "created_at")
    for position in [("0001-01-01T00:00:00+01:00", 3), ("2026-01-01T00:00:00+00:00", 2**31)]:
        with pytest.raises(InvalidQuery, match="not one this server gave"):
            decode_cursor(encode_cursor(position, key), key, sort)
    last = encode_cursor(("2026-01-01T01:00:00+01:00", 2**31 - 1), key)
    assert decode_cursor(last, key, sort) == (datetime(2026, 1, 1, tzinfo=UTC), 2**31 - 1)


def test_a_prefix_is_bounded_once_folded_as_the_index_keeps_it() -> None:
    # The index keeps 135 folded characters of a long value; "ß" folds to "ss".
    assert bound(f"org_name startswith '{'ß' * 67}'") == KeyPrefix(fid("org_name"), "ss" * 67)
    with pytest.raises(InvalidQuery, match=r"^A prefix holds at most 135 characters"):
        bound(f"org_name startswith '{'ß' * 68}'")
