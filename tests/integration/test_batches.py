"""Batches write what the one-by-one services write, item after item, and nothing else."""

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from accord.domain.entries import EntryRef
from accord.domain.errors import AccordError
from accord.domain.rights import Rights
from accord.domain.schema import Directory, FieldType
from accord.domain.users import Actor
from accord.domain.values import RawValue
from accord.services import batches, directories, entries, users
from accord.services.batches import BatchRefused, Mode, Outcome
from accord.services.transactions import Database, Transaction, open_database, run
from accord.store import bulk
from accord.store import tables as t
from tests.support import Templates, custom_field, dump

Item = Mapping[str, Any]


@pytest.fixture
def twins(templates: Templates) -> Iterator[tuple[Database, Database]]:
    """Two databases holding the same demo data."""
    with templates.fresh("demo") as one, templates.fresh("demo") as other:
        pair = (
            open_database(one, sqlite_synchronous="NORMAL"),
            open_database(other, sqlite_synchronous="NORMAL"),
        )
        yield pair
        for database in pair:
            database.dispose()


def admin(tx: Transaction) -> Actor:
    return Actor(users.get_user(tx, "admin"), Rights(is_admin=True), "api")


def one_by_one(db: Database, code: str, mode: Mode, match: str, items: Sequence[Item]) -> list[str]:
    """Each item through json_inputs and create_entry / update_entry, a transaction each."""
    found = []
    for data in items:

        def work(tx: Transaction, data: Item = data) -> str:
            directory = tx.schema.find_directory(code)
            inputs, unknown = entries.json_inputs(tx.schema, directory, data)
            actor = admin(tx)
            number = _existing(tx, directory, mode, match, data, actor)
            if number is None and mode is not Mode.UPDATE:
                created = entries.create_entry(tx, directory, inputs, actor=actor, refused=unknown)
                return f"created {created.id}"
            ref = EntryRef(id=number)
            updated = entries.update_entry(tx, directory, ref, inputs, actor=actor, refused=unknown)
            return f"updated {updated.id}"

        try:
            found.append(run(db, work, write=True))
        except AccordError as error:
            found.append(error.code)
    return found


def _existing(
    tx: Transaction, directory: Directory, mode: Mode, match: str, data: Item, actor: Actor
) -> int | None:
    if mode is Mode.CREATE:
        return None
    if match == "id":
        number = data.get("id")
        return number if isinstance(number, int) else None
    field = tx.schema.field(directory, match)
    hits = entries.search_entries(tx, directory, [(field, str(data[match]))], actor=actor)
    return next((hit.id for hit in hits), None)


def in_batch(
    db: Database, code: str, mode: Mode, match: str, items: Sequence[Item], **options: Any
) -> list[Outcome]:
    def work(tx: Transaction) -> list[Outcome]:
        directory = tx.schema.find_directory(code)
        return batches.write_batch(
            tx, directory, items, mode=mode, match=match, actor=admin(tx), **options
        )

    return run(db, work, write=True)


def summary(outcomes: Sequence[Outcome]) -> list[str]:
    return [
        o.error.code
        if o.error is not None
        else f"{'created' if o.created else 'updated'} {o.entry.id if o.entry else '?'}"
        for o in outcomes
    ]


def contents(db: Database) -> dict[str, list[Any]]:
    """What the entry tables hold, but row keys, times and ids given by sequences: entries
    by (directory, id), dictionary values by label (PostgreSQL spends a sequence's value
    in a transaction rolled back, so ids may differ where labels do not)."""
    e, v, h, d, f = t.entries.c, t.entry_values.c, t.history.c, t.dictionary_values.c, t.fields.c
    with db.engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                e.pk, e.directory_id, e.number, e.name, e.name_compact, e.data, e.version
            ).order_by(e.directory_id, e.number)
        ).all()
        index = connection.execute(sa.select(v.field_id, v.key, v.entry_pk, v.unique_key)).all()
        changes = connection.execute(
            sa.select(
                h.directory_id,
                h.entry_number,
                h.user_id,
                h.edge,
                h.action,
                h.field_code,
                h.old_value,
                h.new_value,
            ).order_by(h.id)
        ).all()
        labels = connection.execute(
            sa.select(d.id, d.dictionary_id, d.label, d.label_key, d.position)
        ).all()
        counters = connection.execute(
            sa.select(t.directories.c.code, t.directories.c.next_number)
        ).all()
        fields = connection.execute(sa.select(f.id, f.code, f.type)).all()
    ref = {row.pk: (row.directory_id, row.number) for row in rows}
    label = {row.id: (row.dictionary_id, row.label) for row in labels}
    by_label = {row.id for row in fields if row.type in ("dictionary", "position")}
    codes = {row.code for row in fields if row.id in by_label}

    def value(code: str, held: Any) -> Any:
        if code not in codes:
            return held
        return [label[i] for i in held] if isinstance(held, list) else label[held]

    return {
        "entries": [
            (*row[1:5], [(c, value(c, x)) for c, x in row.data.items()], row.version)
            for row in rows
        ],
        "index": sorted(
            (f, label[int(k)] if f in by_label else k, ref[pk], u) for f, k, pk, u in index
        ),
        # Each entry's changes in order (entries may interleave differently).
        "history": sorted((tuple(c) for c in changes), key=lambda c: c[:2]),
        "labels": sorted(tuple(row[1:]) for row in labels),
        "counters": sorted(tuple(row) for row in counters),
    }


def assert_same_as_one_by_one(
    twins: tuple[Database, Database],
    code: str,
    mode: Mode,
    items: Sequence[Item],
    match: str = "id",
) -> list[str]:
    alone, batched = twins
    expected = one_by_one(alone, code, mode, match, items)
    assert summary(in_batch(batched, code, mode, match, items)) == expected
    written, expected_rows = contents(batched), contents(alone)
    for table, rows in expected_rows.items():
        assert written[table] == rows, table
    return expected


def test_creating_companies_writes_what_create_entry_writes(
    twins: tuple[Database, Database],
) -> None:
    services = custom_field(twins[0], "CLIENTS", "Services")
    notes = custom_field(twins[0], "CLIENTS", "Notes")
    outcomes = assert_same_as_one_by_one(
        twins,
        "CLIENTS",
        Mode.CREATE,
        [
            {
                "org_name": "  Zeta Systems ",
                "org_type": "Client",
                "org_industry": {"label": "Retail"},
                "org_www": "zeta.example",
                "org_sla": "SLA-1 Free",
                "org_contact": {"id": 2},
                services: ["Development", "training"],
                notes: "A long story",
            },
            {"org_name": "Omega", "org_contact": "Alice Martin", "org_type": None},
            {"org_name": "Bad site", "org_www": "not a url"},
            {"org_name": "Unknown", "no_such_field": 1},
            {"org_type": "Client"},
            {"org_name": "ACME corporation"},
            {"org_name": "zeta systems"},
            {"org_name": "Last", "org_type": "No such type", "org_www": "a b"},
            {"org_name": "Lone"},
            # What COPY's text format escapes (PostgreSQL writes the rows through COPY)
            {"org_name": "Back\\slash \\N", notes: "a\ttab, a line\nbreak, \\N, \\."},
            # A wrong value and a missing required field: both told, as one by one.
            {"org_type": "No such type"},
        ],
    )
    assert outcomes == [
        "created 17",
        "created 18",
        "invalid_value",
        "field_not_found",
        "field_required",
        "duplicate_value",
        "duplicate_value",
        "invalid_fields",
        "created 19",
        "created 20",
        "invalid_fields",
    ]


def test_creating_contacts_creates_their_new_companies_and_positions_as_create_entry_does(
    twins: tuple[Database, Database],
) -> None:
    outcomes = assert_same_as_one_by_one(
        twins,
        "CONTACTS",
        Mode.CREATE,
        [
            {"contact_name": "Ann", "contact_company": "Brand New", "contact_position": "Boss"},
            {"contact_name": "Ben", "contact_company": "brand new", "contact_position": "BOSS"},
            {"contact_company": "Ghost Company", "contact_position": "Ghost"},
            {"contact_name": "Cid", "contact_company": {"id": 2}, "contact_position": "CTO"},
            {"contact_name": "Dee", "contact_company": "Other New", "contact_email": "bad"},
            {"contact_name": "Eve", "contact_company": "Teamlead", "contact_position": "Chief"},
        ],
    )
    assert outcomes == [
        "created 11",
        "created 12",
        "field_required",
        "created 13",
        "invalid_value",
        "created 14",
    ]


def test_updating_by_id_writes_what_update_entry_writes(
    twins: tuple[Database, Database],
) -> None:
    services = custom_field(twins[0], "CLIENTS", "Services")
    outcomes = assert_same_as_one_by_one(
        twins,
        "CLIENTS",
        Mode.UPDATE,
        [
            {"id": 1, "org_type": "Partner", "org_www": None, services: ["Support"]},
            {"id": 3, "org_name": "Adobe"},  # unchanged: nothing is written
            {"id": 4, "org_name": "Teamlead"},  # taken by company 2
            {"id": 5, "org_name": "Globex Two", "org_sla": None},
            {"id": 6, "org_name": "globex"},  # company 4 ("Globex") still holds it
            {"id": 7, "org_name": "initech"},  # freed by company 5 just before
            {"id": 99, "org_name": "Nobody"},
            {"id": 8, "org_name": None},
            {"id": 9, "org_name": "HOOLI"},  # its own name, in other case
        ],
    )
    assert outcomes == [
        "updated 1",
        "updated 3",
        "duplicate_value",
        "updated 5",
        "duplicate_value",
        "updated 7",
        "entry_not_found",
        "invalid_value",
        "updated 9",
    ]


def test_upserting_by_a_unique_field_matches_it_case_insensitively(
    twins: tuple[Database, Database],
) -> None:
    outcomes = assert_same_as_one_by_one(
        twins,
        "CLIENTS",
        Mode.UPSERT,
        [
            {"org_name": "ACME CORPORATION", "org_type": "Vendor"},
            {"org_name": "Brand New", "org_www": "brand.example"},
            {"org_name": "Globex", "org_www": "globex.example"},  # as it is: unchanged
            {"org_name": "Initech", "org_www": "bad url"},
        ],
        match="org_name",
    )
    assert outcomes == ["updated 1", "created 17", "updated 4", "invalid_value"]


def test_upserting_products_by_name_with_numbers(twins: tuple[Database, Database]) -> None:
    outcomes = assert_same_as_one_by_one(
        twins,
        "PRODUCTS",
        Mode.UPSERT,
        [
            {"product_name": "confluence", "product_price": 7.25},
            {"product_name": "Widget", "product_price": "10,50"},
            {"product_name": "Gadget", "product_price": "ten"},
        ],
        match="product_name",
    )
    assert outcomes == ["updated 2", "created 5", "invalid_value"]


def test_upsert_by_an_id_that_does_not_exist_creates_that_entry_and_later_ids_follow_it(
    db: Database,
) -> None:
    outcomes = in_batch(
        db,
        "CLIENTS",
        Mode.UPSERT,
        "id",
        [{"id": 1, "org_www": "acme.example.org"}, {"id": 500, "org_name": "Five Hundred"}],
    )
    assert summary(outcomes) == ["updated 1", "created 500"]
    later = in_batch(db, "CLIENTS", Mode.CREATE, "id", [{"org_name": "After"}])
    assert summary(later) == ["created 501"]


def test_an_upsert_without_id_creates_with_the_next_id_after_those_the_batch_names(
    db: Database,
) -> None:
    outcomes = in_batch(
        db,
        "CLIENTS",
        Mode.UPSERT,
        "id",
        [{"org_name": "First"}, {"id": 17, "org_name": "Seventeen"}, {"org_name": "Then"}],
    )
    assert summary(outcomes) == ["created 17", "conflict", "created 18"]


def test_two_items_naming_the_same_entry_are_a_conflict_for_the_second(db: Database) -> None:
    by_id = in_batch(
        db, "CLIENTS", Mode.UPDATE, "id", [{"id": 1, "org_www": "a.example"}, {"id": 1}]
    )
    assert summary(by_id) == ["updated 1", "conflict"]
    by_name = in_batch(
        db,
        "CLIENTS",
        Mode.UPSERT,
        "org_name",
        [{"org_name": "Twice"}, {"org_name": "TWICE", "org_www": "b.example"}],
    )
    assert summary(by_name) == ["created 17", "conflict"]


def test_an_update_by_id_needs_the_id(db: Database) -> None:
    outcomes = in_batch(db, "CLIENTS", Mode.UPDATE, "id", [{"org_name": "No id"}, {"id": "1"}])
    assert summary(outcomes) == ["parameter_required", "invalid_parameter"]


def test_match_must_name_id_or_a_unique_field(db: Database) -> None:
    with pytest.raises(batches.BatchError):
        in_batch(db, "CLIENTS", Mode.UPDATE, "org_www", [{"org_www": "a.example"}])


def test_an_all_or_nothing_batch_with_a_failing_item_writes_nothing(db: Database) -> None:
    before = dump(db)
    items = [
        {"contact_name": "Ann", "contact_company": "Brand New", "contact_position": "Boss"},
        {"contact_name": "Ben", "contact_email": "not an e-mail"},
    ]
    with pytest.raises(BatchRefused) as refused:
        in_batch(db, "CONTACTS", Mode.CREATE, "id", items, atomic=True)
    assert [(i, e.code) for i, e in refused.value.failures] == [(1, "invalid_value")]
    assert dump(db) == before


class _ConcurrentWriter:
    """Makes the batch's own check miss a unique value, as if another transaction had
    committed it between the check and the write: the database then refuses the write."""

    def __init__(self) -> None:
        self.checks = 0
        self.real: Callable[..., dict[tuple[int, str], int]] = bulk.unique_holders

    def __call__(self, connection: sa.Connection, keys: Any) -> dict[tuple[int, str], int]:
        self.checks += 1
        return {} if self.checks == 1 else self.real(connection, keys)


def test_a_value_the_database_refuses_fails_its_item_only(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "unique_holders", _ConcurrentWriter())
    items = [
        {"org_name": "Fine", "org_type": "Client"},
        {"org_name": "Teamlead"},
        {"org_name": "Also fine"},
    ]
    outcomes = in_batch(db, "CLIENTS", Mode.CREATE, "id", items)
    assert summary(outcomes) == ["created 17", "duplicate_value", "created 18"]
    assert outcomes[1].error is not None
    assert (
        outcomes[1].error.message
        == "Value 'Teamlead' of unique field 'Company name' already exists"
    )
    names = [o.entry.values["org_name"] for o in outcomes if o.entry is not None]
    assert names == ["Fine", "Also fine"]


def test_a_value_the_database_refuses_in_an_all_or_nothing_batch_writes_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dump(db)
    monkeypatch.setattr(bulk, "unique_holders", _ConcurrentWriter())
    items = [{"org_name": "Fine"}, {"org_name": "Teamlead"}]
    with pytest.raises(BatchRefused) as refused:
        in_batch(db, "CLIENTS", Mode.CREATE, "id", items, atomic=True)
    assert [(i, e.code) for i, e in refused.value.failures] == [(1, "duplicate_value")]
    assert dump(db) == before


def test_an_item_the_database_refuses_leaves_no_company_or_position_behind(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def add_badge(tx: Transaction) -> str:
        field = directories.add_field(
            tx, "CONTACTS", "Badge", FieldType.TEXT, unique=True, actor=admin(tx)
        )
        return field.code

    badge = run(db, add_badge, write=True)
    in_batch(db, "CONTACTS", Mode.CREATE, "id", [{"contact_name": "Old", badge: "B-1"}])
    elsewhere = open_database(db.engine.url.render_as_string(False), sqlite_synchronous="NORMAL")
    position = custom_field(elsewhere, "CONTACTS", "Position")  # its schema, cached
    monkeypatch.setattr(bulk, "unique_holders", _ConcurrentWriter())
    items = [
        {"contact_name": "Ann", "contact_company": "Brand New", "contact_position": "Boss"},
        {
            "contact_name": "Ben",
            "contact_company": "Ghost Co",
            "contact_position": "Ghost",
            badge: "b-1",
        },
    ]
    outcomes = in_batch(db, "CONTACTS", Mode.CREATE, "id", items)
    assert summary(outcomes) == ["created 12", "duplicate_value"]

    def names(tx: Transaction) -> tuple[list[str], list[str]]:
        companies = tx.schema.directory_by_code("CLIENTS")
        found = entries.search_entries(tx, companies, actor=admin(tx))
        dictionary = tx.schema.find_dictionary("Position")
        return [e.values["org_name"] for e in found][-1:], [v.label for v in dictionary.values]

    companies, labels = run(elsewhere, names, write=False)
    elsewhere.dispose()
    assert companies == ["Brand New"]
    assert "Boss" in labels
    assert "Ghost" not in labels
    assert position == "contact_position"


def test_a_name_another_writer_takes_meanwhile_fails_its_item_only(db: Database) -> None:
    """Another transaction creates "Racer" while the batch runs: on PostgreSQL the batch
    has checked before that commit, the database refuses its write, and the batch is
    written again item by item; on SQLite the writers take turns. Either way, that item
    alone is refused."""
    created = threading.Event()

    def other_writer(tx: Transaction) -> None:
        companies = tx.schema.directory_by_code("CLIENTS")
        name = tx.schema.field(companies, "org_name")
        entries.create_entry(tx, companies, [(name, RawValue("Racer"))], actor=admin(tx))
        created.set()
        time.sleep(0.5)  # commits while the batch waits for it

    other = threading.Thread(target=run, args=(db, other_writer), kwargs={"write": True})
    other.start()
    assert created.wait(10)
    items = [{"org_name": "Fine"}, {"org_name": "racer"}, {"org_name": "Also fine"}]
    outcomes = in_batch(db, "CLIENTS", Mode.CREATE, "id", items)
    other.join()
    assert summary(outcomes)[1] == "duplicate_value"
    assert [o.entry.values["org_name"] for o in outcomes if o.entry] == ["Fine", "Also fine"]
