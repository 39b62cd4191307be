"""The legacy edge's parameter rules, without HTTP: servlet decoding and field naming."""

from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.domain.errors import FieldNotFound, ParameterRequired
from accord.legacy.fields import crm_pairs, field_inputs
from accord.legacy.params import Params, decode_pairs
from tests.unit.fakes import COMPANIES, SCHEMA


def test_decoding_like_a_servlet() -> None:
    pairs = decode_pairs(b"a=1+2&b=%41%42&c=&d&e=x=y&&f=%zz&=nameless")
    assert pairs == [("a", "1 2"), ("b", "AB"), ("c", ""), ("d", ""), ("e", "x=y"), ("f", "%zz")]


def test_undecodable_bytes_survive_as_surrogates_never_as_replacements() -> None:
    ((name, value),) = decode_pairs(b"n%FF=v%FE")
    assert "\ufffd" not in name + value
    assert name.encode("utf-8", "surrogateescape") == b"n\xff"


def test_raw_bytes_decode_as_their_escapes_do() -> None:
    raw = b"n\xff=v\xe2\x82&x=\xe2\x82\xac&=nameless&z"
    escaped = b"n%FF=v%E2%82&x=%E2%82%AC&=nameless&z"
    expected = [("n\udcff", "v\udce2\udc82"), ("x", "\u20ac"), ("z", "")]
    assert decode_pairs(raw) == decode_pairs(escaped) == expected


def servlet_pairs(raw: bytes) -> list[tuple[str, str]]:
    """The rule, spelled out: split the bytes, then unescape each name and value."""
    pairs = []
    for part in raw.split(b"&"):
        name, _, value = part.partition(b"=")
        if name:
            decoded = [unquote_to_bytes(x.replace(b"+", b" ")) for x in (name, value)]
            pairs.append(
                (
                    decoded[0].decode("utf-8", "surrogateescape"),
                    decoded[1].decode("utf-8", "surrogateescape"),
                )
            )
    return pairs


@given(
    st.lists(
        st.sampled_from(
            [
                b"a",
                b"\xe2",
                b"\x82",
                b"\xff",
                b"%",
                b"%E2",
                b"%82",
                b"%AC",
                b"%2",
                b"%26",
                b"+",
                b"=",
                b"&",
                b" ",
                b"\x00",
            ]
        )
    ).map(b"".join)
)
def test_any_bytes_decode_as_split_then_unescaped(raw: bytes) -> None:
    assert decode_pairs(raw) == servlet_pairs(raw)


def test_first_value_wins_and_the_body_overrides_the_query() -> None:
    params = Params([("a", "query"), ("a", "second"), ("b", "query")], [("b", "body")])
    assert (params.get("a"), params.get("b")) == ("query", "body")


def test_parameters_keep_the_order_they_first_came_in() -> None:
    params = Params([("b", "query"), ("a", "query"), ("b", "again")], [("c", "body"), ("a", "x")])
    assert list(params) == [("b", "query"), ("a", "x"), ("c", "body")]


def test_crm_pairs_in_numeric_order_with_gaps() -> None:
    params = Params(
        decode_pairs(
            b"crm_param_10=B&crm_param_10_value=2&crm_param_2=A&crm_param_2_value=1&crm_param_5=C"
        )
    )
    assert crm_pairs(params) == [("A", "1"), ("C", ""), ("B", "2")]
    with pytest.raises(ParameterRequired, match="crm_param_3"):
        crm_pairs(Params([("crm_param_3_value", "x")]))


def inputs(query: bytes) -> dict[str, tuple[str, bool]]:
    found = field_inputs(Params(decode_pairs(query)), SCHEMA, COMPANIES)
    return {field.code: (raw.text, raw.display) for field, raw in found}


def test_the_four_ways_of_naming_a_field() -> None:
    assert inputs(b"clients-org_name=A") == {"org_name": ("A", False)}
    assert inputs(b"org_www=w") == {"org_www": ("w", False)}
    assert inputs(b"Company+name=B") == {"org_name": ("B", False)}
    assert inputs(b"crm_param_1=Website&crm_param_1_value=w") == {"org_www": ("w", False)}


def test_the_most_explicit_naming_wins() -> None:
    query = b"Company+name=byname&org_name=bycode&crm_param_1=org_name&crm_param_1_value=pair"
    assert inputs(query)["org_name"] == ("pair", False)
    assert inputs(query + b"&clients-org_name=prefixed")["org_name"] == ("prefixed", False)


def test_display_texts_count_only_alone() -> None:
    assert inputs(b"view-clients-org_industry=Consulting") == {
        "org_industry": ("Consulting", True),
    }
    assert inputs(b"view-clients-org_industry=Shown&clients-org_industry=11") == {
        "org_industry": ("11", False),
    }
    assert inputs(b"view-clients-nothing=x") == {}


def test_reserved_parameters_are_not_fields_and_unknown_names_are_errors() -> None:
    assert inputs(b"apiKey=k&userName=u&command=c&tableName=t&id=&companyId=1") == {}
    with pytest.raises(FieldNotFound, match="Field not found: colour"):
        inputs(b"colour=red")
    with pytest.raises(FieldNotFound, match="Field not found: clients-colour"):
        inputs(b"clients-colour=red")
