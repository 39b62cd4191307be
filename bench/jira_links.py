"""The delivery rate of the Jira outbox, against the simulator, beside the simulator's
own rate for the same requests sent directly.

Queues `--writes` remote-link writes (spread over `--issues` issues, as the outbox holds
them after that many link changes), lets a job worker deliver them all to a simulated
Data Center over loopback HTTP, and prints rows a second and the Jira requests they
took; then sends the same POSTs straight from one Jira client to a fresh simulator and
prints that rate. The ratio says what the outbox costs beyond Jira's own time.

    .venv/bin/python bench/jira_links.py [--writes 10000] [--issues 100] [--database-url URL]

Without `--database-url`, a SQLite file in a scratch folder of the working directory,
removed at the end. PostgreSQL: give it an empty database (it is migrated, and left).
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from tests.jira_sim import server as sim_server
from tests.jira_sim.server import JiraSim

from accord.domain.users import Actor
from accord.jira.client import JiraClient
from accord.jira.connect import connect
from accord.jira.source import DELIVERY_RETRY, DELIVERY_TIMEOUTS, stored_gateway
from accord.jobs.worker import JobWorker
from accord.services import jira_connection, migrations, outbox
from accord.services.secrets import SecretBox
from accord.services.transactions import Database, now, open_database, run
from accord.store import outbox as outbox_store
from accord.store.outbox import NewRow

PUBLIC = "https://crm.example.com"


def queue(database: Database, writes: int, issues: int) -> None:
    rows = [
        NewRow(
            outbox.REMOTE_LINK,
            f"BENCH-{n % issues + 1}",
            "CONTACTS",
            n + 1,
            {"title": f"Contact {n + 1}"},
        )
        for n in range(writes)
    ]
    run(database, lambda tx: outbox_store.add(tx.connection, rows, at=now()), write=True)


def through_the_outbox(database: Database, writes: int, issues: int) -> tuple[float, int]:
    """Seconds the worker took to deliver every row, and the requests Jira received."""
    with JiraSim("dc10", record=False) as sim:
        box = SecretBox(key=Fernet.generate_key().decode(), key_file=Path("unused"))
        credential = jira_connection.credential_from(sim.url, token=sim_server.TOKEN)
        connect(database, box, credential, actor=Actor.system("cli"))
        queue(database, writes, issues)
        source = stored_gateway(database, box, timeouts=DELIVERY_TIMEOUTS, retry=DELIVERY_RETRY)
        worker = JobWorker(database, outbox_source=source, public_url=PUBLIC)
        started = time.perf_counter()
        delivered = 0
        while done := worker.deliver_outbox():
            delivered += done
        elapsed = time.perf_counter() - started
        assert delivered == writes, (delivered, writes)
        assert run(database, outbox.backlog, write=False).pending == 0
        links = sum(n for path, n in sim.requests.items() if path.endswith("/remotelink"))
        return elapsed, links


def directly(writes: int, issues: int) -> float:
    """Seconds one client took to send the same POSTs to a fresh simulator."""
    with JiraSim("dc10", record=False) as sim:
        headers = {"Authorization": f"Bearer {sim_server.TOKEN}"}
        with JiraClient(sim.url, headers=headers, retry=DELIVERY_RETRY) as client:
            started = time.perf_counter()
            for n in range(writes):
                body = {
                    "globalId": f"accord:CONTACTS:{n + 1}",
                    "object": {"url": f"{PUBLIC}/d/CONTACTS/{n + 1}", "title": f"Contact {n + 1}"},
                }
                client.request(
                    "POST", f"/rest/api/2/issue/BENCH-{n % issues + 1}/remotelink", json=body
                )
            return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=10_000)
    parser.add_argument("--issues", type=int, default=100)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-jira-", dir="."))
    url = args.database_url or f"sqlite:///{scratch / 'bench.db'}"
    database = open_database(url)
    try:
        migrations.upgrade_schema(database)
        outboxed, requests = through_the_outbox(database, args.writes, args.issues)
        direct = directly(args.writes, args.issues)
    finally:
        database.dispose()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{args.writes} link writes over {args.issues} issues ({url.split(':', 1)[0]})")
    print(
        f"  through the outbox: {outboxed:.1f} s, {args.writes / outboxed:.0f}/s, "
        f"{requests} Jira requests"
    )
    print(
        f"  sent directly:      {direct:.1f} s, {args.writes / direct:.0f}/s, "
        f"{args.writes} Jira requests"
    )
    print(f"  outbox / direct:    {direct / outboxed:.2f} of the direct rate")


if __name__ == "__main__":
    main()
