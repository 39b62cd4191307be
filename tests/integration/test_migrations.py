import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from accord.services.transactions import Database
from accord.store import migrate


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
