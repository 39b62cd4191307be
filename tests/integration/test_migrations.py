from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from accord.services.transactions import Database
from accord.store import migrate
from accord.store import tables as t


def test_the_schema_matches_the_code_after_upgrading_from_empty(empty_db: Database) -> None:
    migrate.check(empty_db.engine)  # raises if the tables drift from src/accord/store/tables.py
    assert migrate.current(empty_db.engine) == migrate.head()


def test_downgrade_to_nothing_and_upgrade_again(empty_db: Database) -> None:
    migrate.downgrade(empty_db.engine, "base")
    assert sa.inspect(empty_db.engine).get_table_names() == ["alembic_version"]
    migrate.upgrade(empty_db.engine)
    migrate.check(empty_db.engine)


def test_the_default_template_is_seeded(empty_db: Database) -> None:
    with empty_db.transaction(write=False) as tx:
        schema = tx.schema
        assert [d.code for d in schema.directories] == [
            "CLIENTS",
            "CONTACTS",
            "PRODUCTS",
            "TRANSACTIONS",
        ]
        companies = schema.find_directory("CLIENTS")
        assert [(f.code, f.name) for f in schema.fields_of(companies)] == [
            ("org_name", "Company name"),
            ("org_type", "Type"),
            ("org_industry", "Industry"),
            ("org_www", "Website"),
            ("org_sla", "SLA"),
            ("org_contact", "Main contact"),
            ("org_people", "Contacts"),
        ]
        contacts = schema.find_directory("CONTACTS")
        assert [f.code for f in schema.fields_of(contacts)] == [
            "contact_name",
            "contact_email",
            "contact_position",
            "contact_login",
            "contact_company",
            "contact_phone",
        ]
        for name in ("Type", "Industry", "SLA", "Position", "Currency"):
            assert schema.find_dictionary(name).values


@pytest.mark.parametrize("statement", ["UPDATE history SET edge = 'x'", "DELETE FROM history"])
def test_the_history_is_append_only_in_the_database_itself(db: Database, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.exec_driver_sql(statement)


def ids(connection: sa.Connection, table: sa.Table) -> dict[str, int]:
    return {row.code: row.id for row in connection.execute(sa.select(table.c.code, table.c.id))}


def test_upgrading_to_0004_keys_entries_by_their_place_and_keeps_every_link(
    empty_db: Database,
) -> None:
    engine = empty_db.engine
    migrate.downgrade(engine, "0003")
    at = datetime(2026, 11, 28, tzinfo=UTC)
    with engine.begin() as connection:
        directory, field = ids(connection, t.directories), ids(connection, t.fields)
        # Row keys as the counter across directories gave them before 0004.
        rows = [(1, "CLIENTS", 7, "Acme"), (2, "CONTACTS", 7, "Ann"), (3, "CLIENTS", 2, "Beta")]
        connection.execute(
            sa.insert(t.entries),
            [
                {
                    "pk": pk,
                    "directory_id": directory[code],
                    "number": number,
                    "name": name,
                    "name_compact": name.lower(),
                    "data": {},
                    "created_at": at,
                    "updated_at": at,
                }
                for pk, code, number, name in rows
            ],
        )
        connection.execute(
            sa.insert(t.entry_values),
            [
                {"field_id": field["org_name"], "key": "acme", "entry_pk": 1, "unique_key": "acme"},
                {"field_id": field["org_name"], "key": "beta", "entry_pk": 3, "unique_key": "beta"},
                {
                    "field_id": field["contact_company"],
                    "key": "7",
                    "entry_pk": 2,
                    "unique_key": None,
                },
            ],
        )
        connection.execute(
            sa.insert(t.issue_links), [{"issue_key": "CRM-1", "field_key": "f", "entry_pk": 1}]
        )

    migrate.upgrade(engine)

    migrate.check(engine)
    e, v, links = t.entries.c, t.entry_values.c, t.issue_links.c
    with engine.begin() as connection:
        for pk, directory_id, number in connection.execute(
            sa.select(e.pk, e.directory_id, e.number)
        ):
            assert pk == t.entry_row_key(directory_id, number)
        held = connection.execute(
            sa.select(v.field_id, v.key, e.number, v.unique_key)
            .join(t.entries, e.pk == v.entry_pk)
            .order_by(v.field_id, v.entry_pk)
        ).all()
        assert {tuple(row) for row in held} == {
            (field["org_name"], "acme", 7, "acme"),
            (field["org_name"], "beta", 2, "beta"),
            (field["contact_company"], "7", 7, None),
        }
        # The index lists a field's holders in id order now.
        names = [row.number for row in held if row.field_id == field["org_name"]]
        assert names == [2, 7]
        linked = connection.execute(
            sa.select(links.issue_key, e.directory_id, e.number).join(
                t.entries, e.pk == links.entry_pk
            )
        ).all()
        assert [tuple(row) for row in linked] == [("CRM-1", directory["CLIENTS"], 7)]
    # Unique values are still the database's to guard.
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            sa.insert(t.entry_values).values(
                field_id=field["org_name"],
                key="acme",
                entry_pk=t.entry_row_key(directory["CLIENTS"], 2),
                unique_key="acme",
            )
        )


def test_upgrading_to_0005_folds_stored_name_keys_in_either_case(empty_db: Database) -> None:
    engine = empty_db.engine
    migrate.downgrade(engine, "0004")
    # Keys as 0004 stored them: lower-case look-alikes stayed Cyrillic.
    before = {"Контакт": "koнтaкт", "Города": "гopoдa", "Тест": "tecт", "тест": "тecт"}
    with engine.begin() as connection:
        for table in (t.dictionaries, t.groups):
            connection.execute(
                sa.insert(table), [{"name": n, "name_key": k} for n, k in before.items()]
            )

    migrate.upgrade(engine)

    migrate.check(engine)
    for table in (t.dictionaries, t.groups):
        with engine.connect() as connection:
            keys = dict(connection.execute(sa.select(table.c.name, table.c.name_key)).all())
        # "тест" and "Тест" are one name now: the older keeps it, the other its old key.
        assert {n: keys[n] for n in before} == {
            "Контакт": "kohtakt",
            "Города": "гopoдa",
            "Тест": "tect",
            "тест": "тecт",
        }
    with empty_db.transaction(write=False) as tx:
        assert tx.schema.find_dictionary("КОНТАКТ").name == "Контакт"
    migrate.downgrade(engine, "0004")
    with engine.connect() as connection:
        keys = dict(connection.execute(sa.select(t.groups.c.name, t.groups.c.name_key)).all())
    assert {n: keys[n] for n in before} == before


def test_upgrading_to_0007_keeps_the_oldest_of_each_grant_and_no_grant_twice(
    empty_db: Database,
) -> None:
    engine = empty_db.engine
    migrate.downgrade(engine, "0006")
    with engine.begin() as connection:
        directory = ids(connection, t.directories)
        at = datetime(2026, 11, 28, tzinfo=UTC)
        connection.execute(
            sa.insert(t.users).values(
                id=1, login="ann", login_key="ann", display_name="Ann", email="", created_at=at
            )
        )
        connection.execute(sa.insert(t.groups).values(id=1, name="Sales", name_key="sales"))
        clients, contacts = directory["CLIENTS"], directory["CONTACTS"]
        held = [  # (right, directory, user, group), as racing grants stored them before 0007
            ("view", clients, 1, None),
            ("view", clients, 1, None),
            ("main-menu", None, 1, None),
            ("main-menu", None, 1, None),
            ("main-menu", None, None, 1),
            ("edit", clients, None, 1),
            ("edit", clients, None, 1),
            ("main-menu", None, 1, None),
            ("view", contacts, 1, None),
        ]
        connection.execute(
            sa.insert(t.grants),
            [
                {"id": n, "right": r, "directory_id": d, "user_id": u, "group_id": g}
                for n, (r, d, u, g) in enumerate(held, start=1)
            ],
        )

    migrate.upgrade(engine)

    migrate.check(engine)
    with engine.connect() as connection:
        kept = connection.execute(sa.select(t.grants.c.id).order_by(t.grants.c.id)).scalars()
        assert list(kept) == [1, 3, 5, 6, 9]
    for right, directory_id, user_id, group_id in held:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                sa.insert(t.grants).values(
                    right=right, directory_id=directory_id, user_id=user_id, group_id=group_id
                )
            )


def test_upgrading_to_0012_keeps_every_text_in_its_directorys_partition(
    empty_db: Database,
) -> None:
    engine = empty_db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's text index is an FTS5 table, not partitioned")
    migrate.downgrade(engine, "0011")
    at = datetime(2026, 12, 7, tzinfo=UTC)
    with engine.begin() as connection:
        directory, field = ids(connection, t.directories), ids(connection, t.fields)
        held = [("CLIENTS", 3, "org_name", "acme"), ("CONTACTS", 3, "contact_name", "ann acme")]
        for code, number, field_code, text in held:
            pk = t.entry_row_key(directory[code], number)
            connection.execute(
                sa.insert(t.entries).values(
                    pk=pk,
                    directory_id=directory[code],
                    number=number,
                    name=text,
                    name_compact=text,
                    data={},
                    created_at=at,
                    updated_at=at,
                )
            )
            connection.execute(
                sa.insert(t.entry_texts).values(entry_pk=pk, field_id=field[field_code], text=text)
            )

    migrate.upgrade(engine)

    migrate.check(engine)
    where = "SELECT tableoid::regclass::text, field_id, text FROM entry_texts ORDER BY entry_pk"
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(where).all()
        partitions = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'entry_texts'::regclass"
        ).scalar_one()
    assert [tuple(row) for row in rows] == [
        (f"entry_texts_{directory[code]}", field[field_code], text)
        for code, _, field_code, text in held
    ]
    assert partitions == len(directory)
    migrate.downgrade(engine, "0011")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(where).all()
    assert [row[1:] for row in rows] == [(field[f], text) for _, _, f, text in held]
