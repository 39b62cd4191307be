"""The database handle: connections outlive neither their use nor the threads using them."""

import threading

import pytest
import sqlalchemy as sa

from accord.domain.users import Actor
from accord.domain.values import RawValue
from accord.services import entries
from accord.services.transactions import Database, Transaction, run
from accord.store import driver
from accord.store import tables as t


def read_instance(db: Database) -> None:
    run(db, lambda tx: driver.instance_row(tx.connection), write=False)


def test_threads_that_come_and_go_leave_every_connection_to_the_next(db: Database) -> None:
    # A server's worker threads end when idle and new ones start; each one's connection
    # must go back for the next thread to use, or the pool runs dry and requests wait.
    most = db.connections * 3
    for _ in range(most):
        thread = threading.Thread(target=read_instance, args=(db,))
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive(), "a transaction waited for a connection"
    done = threading.Event()
    threading.Thread(target=lambda: (read_instance(db), done.set()), daemon=True).start()
    assert done.wait(timeout=10)


def test_concurrent_transactions_each_get_their_own_connection(db: Database) -> None:
    entered, release = threading.Barrier(4), threading.Event()
    seen: list[int] = []

    def hold() -> None:
        def work(tx: object) -> None:
            seen.append(id(tx.connection))  # type: ignore[attr-defined]
            entered.wait(timeout=10)
            release.wait(timeout=10)

        run(db, work, write=False)

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    entered.wait(timeout=10)
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(set(seen)) == 3


def count_entries(tx: Transaction) -> int:
    """Through SQLAlchemy (a read transaction begun on the driver must take these too)."""
    return int(tx.connection.execute(sa.select(sa.func.count()).select_from(t.entries)).scalar())


def add_company(db: Database, name: str) -> None:
    def work(tx: Transaction) -> None:
        companies = tx.schema.directory_by_code("CLIENTS")
        name_field = tx.schema.name_field(companies)
        entries.create_entry(tx, companies, [(name_field, RawValue(name))], actor=system)

    system = Actor.system("test")
    run(db, work, write=True)


def test_a_read_sees_one_state_of_the_database_from_start_to_end(db: Database) -> None:
    # What a streamed listing relies on: a write committed meanwhile stays out of it.
    if not db.embedded:
        pytest.skip("PostgreSQL reads at read committed; each statement sees the latest")
    with db.transaction(write=False) as tx:
        before = count_entries(tx)
        add_company(db, "Written Meanwhile")
        assert count_entries(tx) == before
        assert driver.execute(tx.connection, "SELECT count(*) FROM entries") == [(before,)]
    with db.transaction(write=False) as tx:
        assert count_entries(tx) == before + 1


def test_a_read_that_fails_leaves_its_connection_fit_for_the_next_transactions(
    db: Database,
) -> None:
    def fail_while_reading() -> None:
        with db.transaction(write=False) as tx:
            count_entries(tx)
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail_while_reading()
    add_company(db, "After A Failed Read")
    with db.transaction(write=False) as tx:
        held = tx.connection.execute(
            sa.select(t.entries.c.number).where(t.entries.c.name == "After A Failed Read")
        ).all()
    assert len(held) == 1
