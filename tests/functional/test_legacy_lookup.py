"""legacy-api.md §4, reading an entry by name: the exact name (case-blind) first, else the
name without white space; of several holders, the lowest id. Searching by a field's
value, and the names of fields and directories (legacy-api.md §3)."""

from typing import Any

from accord.domain.schema import FieldType
from accord.domain.users import Actor
from accord.domain.values import RawValue
from accord.services import directories, entries, users
from accord.services.transactions import Database, Transaction, run
from tests.support import Legacy, Server, custom_field

CLI = Actor.system("cli")


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


def test_cyrillic_display_names_match_in_any_case(legacy: Legacy, db: Database) -> None:
    # legacy-api.md §3 and 3.1: tableName and field names match case-insensitively, Cyrillic
    # look-alikes folded to Latin, whichever case they are written in.
    def work(tx: Transaction) -> str:
        directory = directories.add_directory(tx, "TOVARY", "Товары", actor=CLI)
        directories.add_field(tx, "TOVARY", "Контакт", FieldType.TEXT, actor=CLI)
        return tx.schema.name_field(directory).code

    name_code = run(db, work, write=True)
    created = legacy(
        "updateOrCreateEntity", tableName="товары", id="", **{name_code: "Чай", "контакт": "Ann"}
    )
    assert created["success"] is True, created
    updated = legacy("updateOrCreateEntity", tableName="ТОВАРЫ", id=created["id"], КОНТАКТ="Bob")
    assert updated["success"] is True, updated
    found = legacy(
        "searchentities", tableName="Товары", crm_param_1="кОнТаКт", crm_param_1_value="bob"
    )
    assert [(r["id"], r["name"]) for r in found["records"]] == [(created["id"], "Чай")]


def test_a_search_on_a_multi_valued_field_matches_its_rendered_value_exactly(
    legacy: Legacy, db: Database
) -> None:
    services = custom_field(db, "CLIENTS", "Services")
    both = legacy("editcompany", companyId="3", **{services: "Development,Training"})
    assert both[services] == "Development,Training"
    assert legacy("editcompany", companyId="5", **{services: "Training"})["success"] is True

    def found(value: str) -> list[str]:
        reply = legacy(
            "searchentities", tableName="CLIENTS", crm_param_1="Services", crm_param_1_value=value
        )
        return [record["id"] for record in reply["records"]]

    assert found("Development,Training") == ["3"]
    assert found("training,development") == ["3"]
    assert found("Training") == ["5"]
    assert found("Development") == []


def test_a_search_on_a_computed_field_matches_its_rendered_value(
    legacy: Legacy, db: Database, server: Server
) -> None:
    def work(tx: Transaction) -> int:
        directories.add_field(tx, "CLIENTS", "Creator", FieldType.CREATOR, actor=CLI)
        directories.add_field(tx, "CLIENTS", "Created", FieldType.CREATED_AT, actor=CLI)
        users.add_user(tx, "maker", email="maker@test.example", actor=CLI)
        for right in ("main-menu", "companies.add"):
            users.grant(tx, right, user="maker", actor=CLI)
        companies = tx.schema.directory_by_code("CLIENTS")
        name = tx.schema.name_field(companies)
        return entries.create_entry(tx, companies, [(name, RawValue("By Accord"))], actor=CLI).id

    by_accord = str(run(db, work, write=True))
    creator, created = (
        custom_field(db, "CLIENTS", "Creator"),
        custom_field(db, "CLIENTS", "Created"),
    )
    demo = [r["id"] for r in legacy("getcompanies")["companies"] if r["id"] != by_accord]
    maker = Legacy(server.client(), user="maker")
    added = maker("addcompany", org_name="Made By Maker")
    maker.close()
    assert (added["success"], added[creator]) == (True, "maker"), added

    def found(field: str, value: str) -> list[str]:
        reply = legacy(
            "searchentities", tableName="CLIENTS", crm_param_1=field, crm_param_1_value=value
        )
        assert reply["success"] is True, reply
        return [record["id"] for record in reply["records"]]

    assert found("Creator", "MAKER") == [added["id"]]
    assert found("Creator", "admin") == demo
    assert found("Creator", "") == [by_accord]  # made by Accord itself: no creator
    assert found("Creator", "nobody") == []
    assert added["id"] in found("Created", added[created])
    assert found("Created", "2001-01-01 00:00:00") == []
    assert found("Created", "9999-12-31 23:59:59") == []  # the last second there is
    assert found("Created", "not a moment") == []
    assert found("Contacts", "unsupported") == [*demo, by_accord, added["id"]]
    assert found("Contacts", "Bob Stone") == []
