"""How the web UI shows values and reads its forms back, without a database."""

import pytest

from accord.domain.errors import AccordError
from accord.domain.passwords import checked_password
from accord.domain.schema import Field, FieldType
from accord.web.values import changed_inputs, safe_href


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("https://acme.example/a?b=1", "https://acme.example/a?b=1"),
        ("http://acme.example", "http://acme.example"),
        ("acme.example", "https://acme.example"),
        ("acme.example/path", "https://acme.example/path"),
        ("javascript:alert(1)", None),
        ("JavaScript:alert(1)", None),
        ("data:text/html,<b>", None),
        ("//evil.example", None),
        ("/local", None),
        ("", None),
    ],
)
def test_a_url_links_only_to_the_web(url: str, href: str | None) -> None:
    assert safe_href(url) == href


def test_only_fields_whose_value_changed_are_sent() -> None:
    name = Field(1, 1, "name", "Name", FieldType.TEXT)
    tags = Field(2, 1, "tags", "Tags", FieldType.DICTIONARY, multiple=True, dictionary_id=1)
    flag = Field(3, 1, "flag", "Flag", FieldType.CHECKBOX)
    was = {"name": "Acme", "tags": "3,1", "flag": "on"}
    same = {"name": "Acme", "tags": "1,3", "flag": "on"}  # a select gives its own order
    assert changed_inputs([name, tags, flag], same, was) == []
    edited = changed_inputs([name, tags, flag], {**same, "flag": ""}, was)
    assert [(field.code, value.value) for field, value in edited] == [("flag", False)]  # type: ignore[union-attr]


def test_a_new_entry_sends_only_what_was_filled_in() -> None:
    name = Field(1, 1, "name", "Name", FieldType.TEXT)
    note = Field(2, 1, "note", "Note", FieldType.TEXT)
    sent = changed_inputs([name, note], {"name": "Acme", "note": ""}, None)
    assert [field.code for field, _ in sent] == ["name"]


@pytest.mark.parametrize("password", ["short", "x" * 1025, "a bell \x07 in it"])
def test_a_password_that_cannot_be_one_is_refused(password: str) -> None:
    with pytest.raises(AccordError, match="A password is 8 to 1024 characters"):
        checked_password(password)


def test_a_password_is_kept_as_given() -> None:
    assert checked_password("  spaced out  ") == "  spaced out  "
