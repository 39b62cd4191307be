from accord.domain.text import (
    KEY_LENGTH,
    compact_form,
    has_invalid_characters,
    index_key,
    name_form,
    printable,
)


def test_display_names_compare_across_case_spacing_and_cyrillic_look_alikes() -> None:
    # The vendor's own example writes "Сompany name" with a Cyrillic "С".
    assert name_form("Сompany name") == name_form("company   NAME") == "company name"
    assert name_form("Сompany name") != name_form("Company names")


def test_a_cyrillic_name_matches_itself_in_any_case() -> None:
    # Every look-alike folds to Latin in either case: К and к, Т and т, В and в, ...
    assert name_form("Контакт") == name_form("контакт") == name_form("КОНТАКТ")
    assert name_form("Товары") == name_form("товары") == name_form("ТОВАРЫ")
    assert name_form("ВЕК МНОТ") == name_form("век мнот") == "bek mhot"
    assert name_form("Телефон") != name_form("Телефоны")


def test_compact_form_ignores_all_white_space() -> None:
    assert compact_form("Ted  Johnson") == compact_form("TedJohnson") == "tedjohnson"


def test_index_keys_are_short_and_distinguish_long_values() -> None:
    long_a, long_b = "x" * 500 + "a", "x" * 500 + "b"
    assert index_key("short") == "short"
    assert len(index_key(long_a)) <= KEY_LENGTH
    assert index_key(long_a) != index_key(long_b)
    assert index_key(long_a) == index_key("x" * 500 + "a")


def test_undecodable_bytes_and_control_characters_are_invalid() -> None:
    assert has_invalid_characters(b"\xff".decode("utf-8", "surrogateescape"))
    assert has_invalid_characters("a\x00b")
    assert not has_invalid_characters("tab\tnew\nline é 日本")


def test_messages_show_undecodable_bytes_as_replacement_and_cut_long_values() -> None:
    assert printable(b"a\xffb".decode("utf-8", "surrogateescape")) == "a\ufffdb"
    assert printable("y" * 1000).endswith("…")
    assert len(printable("y" * 1000)) == 201
