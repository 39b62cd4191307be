"""The database handle: connections outlive neither their use nor the threads using them."""

import threading

from accord.services.transactions import Database, run
from accord.store import driver


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
