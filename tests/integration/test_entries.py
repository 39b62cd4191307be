"""The entries service on a real database: history, links, ids, uniqueness, search."""

from collections.abc import Callable
from typing import TypeVar

import pytest

from accord.domain.entries import Entry, EntryRef
from accord.domain.errors import DuplicateValue, EntryNotFound, InvalidValue, ParameterRequired
from accord.domain.users import Actor
from accord.domain.values import RawValue, render_flat
from accord.services import dictionaries, entries
from accord.services.transactions import Database, Transaction, run
from accord.store import history

T = TypeVar("T")
ADMIN = Actor.system("api")


def do(db: Database, work: Callable[[Transaction], T]) -> T:
    return run(db, work, write=True)


def create(db: Database, directory: str, **values: str) -> Entry:
    def work(tx: Transaction) -> Entry:
        found = tx.schema.find_directory(directory)
        inputs = [(tx.schema.find_field(found, k), RawValue(v)) for k, v in values.items()]
        return entries.create_entry(tx, found, inputs, actor=ADMIN)

    return do(db, work)


def update(db: Database, directory: str, entry_id: int, **values: str) -> Entry:
    def work(tx: Transaction) -> Entry:
        found = tx.schema.find_directory(directory)
        inputs = [(tx.schema.find_field(found, k), RawValue(v)) for k, v in values.items()]
        return entries.update_entry(tx, found, EntryRef(id=entry_id), inputs, actor=ADMIN)

    return do(db, work)


def shown(db: Database, directory: str, entry_id: int) -> dict[str, str]:
    def work(tx: Transaction) -> dict[str, str]:
        found = tx.schema.find_directory(directory)
        entry = entries.get_entry(tx, found, EntryRef(id=entry_id), actor=ADMIN)
        return {f.code: render_flat(f, entry, tx.schema) for f in tx.schema.fields_of(found)}

    return do(db, work)


def changes(db: Database, directory: str, entry_id: int) -> list[history.Change]:
    def work(tx: Transaction) -> list[history.Change]:
        found = tx.schema.find_directory(directory)
        return history.changes_of(tx.connection, found.id, entry_id)

    return do(db, work)


def test_every_change_is_recorded_with_who_when_edge_old_and_new(db: Database) -> None:
    company = create(db, "CLIENTS", org_name="Zeta", org_industry="Retail")
    update(db, "CLIENTS", company.id, org_industry="Finance", org_www="zeta.example")
    recorded = [
        (c.action, c.field_code, c.old_value, c.new_value, c.edge)
        for c in changes(db, "CLIENTS", company.id)
    ]
    assert recorded == [
        ("create", "org_name", None, "Zeta", "api"),
        ("create", "org_industry", None, "Retail", "api"),
        ("update", "org_industry", "Retail", "Finance", "api"),
        ("update", "org_www", "", "zeta.example", "api"),
    ]


def test_an_edit_that_changes_nothing_writes_nothing(db: Database) -> None:
    company = create(db, "CLIENTS", org_name="Same")
    again = update(db, "CLIENTS", company.id, org_name="Same")
    assert again.version == company.version
    assert len(changes(db, "CLIENTS", company.id)) == 1


def test_ids_count_per_directory_and_are_never_reused(db: Database) -> None:
    first = create(db, "PRODUCTS", product_name="One")
    do(
        db,
        lambda tx: entries.delete_entry(
            tx, tx.schema.find_directory("PRODUCTS"), EntryRef(id=first.id), actor=ADMIN
        ),
    )
    second = create(db, "PRODUCTS", product_name="Two")
    assert second.id == first.id + 1
    contact = create(db, "CONTACTS", contact_name="Counted apart")
    assert contact.id == 11  # the demo holds ten contacts, whatever the products did


def test_unique_fields_refuse_duplicates_in_any_case_but_allow_renaming_oneself(
    db: Database,
) -> None:
    with pytest.raises(DuplicateValue, match="Value 'TEAMLEAD' of unique field 'Company name'"):
        create(db, "CLIENTS", org_name="TEAMLEAD")
    assert update(db, "CLIENTS", 2, org_name="TeamLead").id == 2
    with pytest.raises(DuplicateValue):
        update(db, "CLIENTS", 3, org_name="teamlead")


def test_required_fields(db: Database) -> None:
    with pytest.raises(ParameterRequired, match="Parameter Company name is required"):
        create(db, "CLIENTS", org_www="nameless.example")
    with pytest.raises(InvalidValue, match="Invalid value for field Company name: "):
        update(db, "CLIENTS", 2, org_name="")


def test_deleting_a_company_clears_every_link_to_it_with_history(db: Database) -> None:
    assert shown(db, "CONTACTS", 2)["contact_company"] == "Teamlead"
    do(
        db,
        lambda tx: entries.delete_entry(
            tx, tx.schema.find_directory("CLIENTS"), EntryRef(name="Teamlead"), actor=ADMIN
        ),
    )
    assert shown(db, "CONTACTS", 2)["contact_company"] == ""
    last = changes(db, "CONTACTS", 2)[-1]
    assert (last.field_code, last.old_value, last.new_value) == ("contact_company", "Teamlead", "")
    with pytest.raises(EntryNotFound, match="Company not found"):
        shown(db, "CLIENTS", 2)
    assert changes(db, "CLIENTS", 2)[-1].action == "delete"


def test_deleting_a_contact_clears_the_companies_main_contact(db: Database) -> None:
    assert shown(db, "CLIENTS", 2)["org_contact"] == "Bob Stone"
    do(
        db,
        lambda tx: entries.delete_entry(
            tx, tx.schema.find_directory("CONTACTS"), EntryRef(id=2), actor=ADMIN
        ),
    )
    assert shown(db, "CLIENTS", 2)["org_contact"] == ""


def test_removing_a_dictionary_value_takes_it_out_of_entries(db: Database) -> None:
    assert shown(db, "CLIENTS", 4)["org_industry"] == "Finance"
    do(db, lambda tx: dictionaries.remove_dictionary_value(tx, "Industry", "finance", actor=ADMIN))
    assert shown(db, "CLIENTS", 4)["org_industry"] == ""
    assert changes(db, "CLIENTS", 4)[-1].old_value == "Finance"


def test_a_failed_write_leaves_no_trace(db: Database) -> None:
    def work(tx: Transaction) -> None:
        contacts = tx.schema.find_directory("CONTACTS")
        fields = tx.schema.fields_of(contacts)
        by_code = {f.code: f for f in fields}
        entries.create_entry(
            tx,
            contacts,
            [
                (by_code["contact_name"], RawValue("Half")),
                (by_code["contact_company"], RawValue("Brand New Co")),
                (by_code["contact_position"], RawValue("Brand New Position")),
                (by_code["contact_email"], RawValue("not-an-email")),
            ],
            actor=ADMIN,
        )

    with pytest.raises(InvalidValue):
        do(db, work)
    with pytest.raises(EntryNotFound):
        do(
            db,
            lambda tx: entries.get_entry(
                tx, tx.schema.find_directory("CLIENTS"), EntryRef(name="Brand New Co"), actor=ADMIN
            ),
        )
    position = do(
        db, lambda tx: tx.schema.find_dictionary("Position").find_value("Brand New Position")
    )
    assert position is None


def search(db: Database, directory: str, **terms: str) -> list[int]:
    def work(tx: Transaction) -> list[int]:
        found = tx.schema.find_directory(directory)
        pairs = [(tx.schema.find_field(found, k), v) for k, v in terms.items()]
        return [e.id for e in entries.search_entries(tx, found, pairs, actor=ADMIN)]

    return do(db, work)


def test_search_by_any_field(db: Database) -> None:
    assert search(db, "CONTACTS", contact_company="teamlead") == [2, 5, 10]
    assert search(db, "CONTACTS", contact_company="(2)") == [2, 5, 10]
    assert search(db, "CONTACTS", contact_company="Teamlead", contact_position="CTO") == [2]
    assert search(db, "CLIENTS", org_industry="Information Technology", org_type="Partner") == [2]
    assert search(db, "CLIENTS", org_sla="") == [8, 9, 11, 13]
    assert search(db, "PRODUCTS", product_price="5.5") == [2]
    assert search(db, "CLIENTS", org_industry="Mining") == []
    assert search(db, "TRANSACTIONS") == [1, 2, 3, 4]


def test_a_multi_valued_field_matches_exactly_its_rendered_values(db: Database) -> None:
    # legacy-api.md §4: a pair matches a field exactly by its rendered value
    # ("Development,Training"), here in any order; one of several values is not the value.
    update(db, "CLIENTS", 3, Services="Development,Training")
    update(db, "CLIENTS", 5, Services="Training")
    assert search(db, "CLIENTS", Services="Training") == [5]
    assert search(db, "CLIENTS", Services="Development,Training") == [3]
    assert search(db, "CLIENTS", Services="training, DEVELOPMENT") == [3]
    assert search(db, "CLIENTS", Services="Development") == []
    assert search(db, "CLIENTS", Services="Development,Training,Support") == []


def test_every_process_sees_a_schema_change_at_its_next_transaction(
    db: Database, demo_url: str
) -> None:
    from accord.services.transactions import open_database

    other = open_database(demo_url)
    try:
        assert do(other, lambda tx: tx.schema.find_dictionary("Colors").find_value("Green")) is None
        do(db, lambda tx: dictionaries.add_dictionary_value(tx, "Colors", "Green", actor=ADMIN))
        assert do(other, lambda tx: tx.schema.find_dictionary("Colors").find_value("Green"))
    finally:
        other.dispose()
