"""Spec section 4, reading an entry by name: the exact name (case-blind) first, else the
name without white space; of several holders, the lowest id."""

from typing import Any

from tests.support import Legacy


def add_contact(legacy: Legacy, name: str) -> str:
    reply = legacy("addcontact", contact_name=name)
    assert reply["success"] is True, reply
    return str(reply["id"])


def contact_named(legacy: Legacy, name: str) -> dict[str, Any]:
    reply = legacy("getcontactbyname", contactName=name)
    assert reply["success"] is True, reply
    return reply


def test_of_two_holders_of_a_name_the_lowest_id_is_read(legacy: Legacy) -> None:
    first = add_contact(legacy, "Twin Name")
    add_contact(legacy, "Twin Name")
    assert contact_named(legacy, "twin NAME")["id"] == first


def test_a_name_typed_without_its_spaces_still_finds_the_entry(legacy: Legacy) -> None:
    spaced = add_contact(legacy, "Spaced Out Name")
    found = contact_named(legacy, "SpacedOutName")
    assert (found["id"], found["name"]) == (spaced, "Spaced Out Name")


def test_an_exact_name_wins_over_a_lower_id_that_matches_without_spaces(legacy: Legacy) -> None:
    add_contact(legacy, "Ab Cd Ef")
    exact = add_contact(legacy, "AbCdEf")
    assert contact_named(legacy, "abcdef")["id"] == exact


def test_a_name_nobody_holds_is_not_found(legacy: Legacy) -> None:
    reply = legacy("getcontactbyname", contactName="Nobody Holds This")
    assert reply == {"success": False, "details": "Contact not found"}
