import pytest

from accord.domain.errors import DirectoryNotFound, PermissionDenied
from accord.domain.rights import (
    Action,
    GlobalRight,
    Rights,
    UnknownRight,
    directory_right_title,
    parse_grant,
)
from accord.domain.schema import Directory
from tests.unit.fakes import COMPANIES, CONTACTS, PRODUCTS, SCHEMA

TRANSACTIONS = Directory(4, "TRANSACTIONS", "Transactions", "transaction_sale")


@pytest.mark.parametrize(
    ("action", "directory", "title"),
    [
        (Action.ADD, COMPANIES, "Add companies"),
        (Action.EDIT, COMPANIES, "Edit companies"),
        (Action.ADD, CONTACTS, "Add contacts"),
        (Action.EDIT, CONTACTS, "Edit contacts"),
        (Action.VIEW, TRANSACTIONS, "Search CRM transactions"),
        (Action.VIEW, COMPANIES, "View Companies"),
        (Action.REMOVE, CONTACTS, "Remove Contacts"),
        (Action.EDIT, PRODUCTS, "Edit Products"),
    ],
)
def test_denied_rights_use_the_vendors_wording_where_it_has_one(
    action: Action, directory: Directory, title: str
) -> None:
    assert directory_right_title(action, directory) == title
    with pytest.raises(PermissionDenied) as denied:
        Rights().require_on(action, directory)
    assert denied.value.message == f"Permission denied: {title}"


def test_global_rights_and_administrators() -> None:
    rights = Rights(global_rights=frozenset({GlobalRight.MAIN_MENU}))
    rights.require(GlobalRight.MAIN_MENU)
    with pytest.raises(PermissionDenied, match="Add the values to dictionaries"):
        rights.require(GlobalRight.DICTIONARY_ADD)
    admin = Rights(is_admin=True)
    admin.require(GlobalRight.DICTIONARY_REMOVE)
    admin.require_on(Action.REMOVE, PRODUCTS)
    admin.require_admin()
    with pytest.raises(PermissionDenied):
        rights.require_admin()


def test_directory_rights_are_per_directory() -> None:
    rights = Rights(directory_rights=frozenset({(COMPANIES.id, Action.VIEW)}))
    assert rights.can(Action.VIEW, COMPANIES)
    assert not rights.can(Action.VIEW, CONTACTS)
    assert not rights.can(Action.EDIT, COMPANIES)


def test_grants_are_named_by_directory_code_name_or_alias() -> None:
    assert parse_grant("main-menu", SCHEMA) == [("main-menu", None)]
    assert parse_grant("companies.edit", SCHEMA) == [("edit", COMPANIES)]
    assert parse_grant("CLIENTS.view", SCHEMA) == [("view", COMPANIES)]
    assert [a for a, _ in parse_grant("contacts.all", SCHEMA)] == ["view", "add", "edit", "remove"]
    for bad in ("companies.fly", "nothing", "contacts.everything"):
        with pytest.raises(UnknownRight) as unknown:
            parse_grant(bad, SCHEMA)
        assert (unknown.value.code, unknown.value.field) == ("unknown_right", "right")
        assert unknown.value.message == f"Unknown right: {bad}"
    for elsewhere in ("planets.view", "dictionaries.eat"):
        with pytest.raises(DirectoryNotFound):
            parse_grant(elsewhere, SCHEMA)


ALL_DIRECTORIES = frozenset({COMPANIES.id, CONTACTS.id, PRODUCTS.id})


@pytest.mark.parametrize(
    "rights",
    [
        Rights(is_admin=True),
        Rights(global_rights=frozenset(GlobalRight)),
    ],
)
def test_a_token_limited_to_directories_keeps_the_main_menu_but_no_dictionary_right(
    rights: Rights,
) -> None:
    limited = rights.limited(
        read_only=False, directory_ids=frozenset({CONTACTS.id}), all_directories=ALL_DIRECTORIES
    )
    assert limited.has(GlobalRight.MAIN_MENU)
    assert not limited.has(GlobalRight.DICTIONARY_ADD)
    assert not limited.has(GlobalRight.DICTIONARY_REMOVE)
    full = rights.limited(read_only=False, directory_ids=None, all_directories=ALL_DIRECTORIES)
    assert full.has(GlobalRight.DICTIONARY_ADD)
    assert full.has(GlobalRight.DICTIONARY_REMOVE)
