"""The text index keys a text by its directory and field ids (on SQLite, in one 64-bit
rowid), so ids have a largest value: past it, a new field or directory is refused with
a clear message and nothing is kept."""

from accord.services.transactions import Database
from tests.functional.api_support import Api, problem


def _last_id_taken(db: Database, table: str, row: str, last: int) -> None:
    """Make `last` the largest id of `table`, as if that many rows had been added."""
    with db.engine.begin() as connection:
        connection.exec_driver_sql(f"INSERT INTO {table} VALUES {row}")
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table.split()[0]}', 'id'), {last})"
            )


def test_a_field_past_the_largest_id_is_refused_and_not_kept(api: Api, db: Database) -> None:
    _last_id_taken(
        db,
        "fields (id, directory_id, code, name, type, position)",
        "(65535, 1, 'clients_spare', 'Spare', 'checkbox', 900)",
        65535,
    )
    before = api.ok("GET", "/directories/CLIENTS")
    body = problem(
        api.post("/directories/CLIENTS/fields", json={"name": "Rank", "type": "number"}),
        422,
        "schema_full",
    )
    assert body["detail"] == "No more fields can be added: their ids have reached 65,535"
    assert api.ok("GET", "/directories/CLIENTS") == before


def test_a_directory_past_the_largest_id_is_refused_and_not_kept(api: Api, db: Database) -> None:
    _last_id_taken(
        db,
        "directories (id, code, name, name_field, builtin, next_number)",
        "(32767, 'SPARE', 'Spare', 'spare_name', false, 1)",
        32767,
    )
    before = api.ok("GET", "/directories")
    body = problem(
        api.post("/directories", json={"code": "PROJECTS", "name": "Projects"}), 422, "schema_full"
    )
    assert body["detail"] == "No more directories can be added: their ids have reached 32,767"
    assert api.ok("GET", "/directories") == before
