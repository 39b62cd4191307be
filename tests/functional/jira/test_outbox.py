"""Issue links mirrored to Jira through the outbox, against the simulator over loopback
HTTP: a contact linked to an issue gets a remote link there, loses it when unlinked or
deleted, and its title follows a rename; the CRM write never waits for Jira, a Jira that
is down catches up in order with each write made once, a worker that dies mid-delivery
is made up for, and a rolled-back change sends nothing."""

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from accord.domain.users import Actor
from accord.jira.client import RetryPolicy
from accord.jira.source import DELIVERY_TIMEOUTS, stored_gateway
from accord.jobs.worker import JobWorker
from accord.services import issues, outbox
from accord.services.outbox import OutboxPolicy
from accord.services.transactions import Database, Transaction, run
from tests.functional.api_support import Api
from tests.functional.jira.conftest import BOX, Cli, MakeSim, connect_sim
from tests.jira_sim.remote_links import Write
from tests.jira_sim.server import JiraSim
from tests.support import SECRET_KEY, Legacy

PUBLIC = "https://crm.example.com"
FIELD = "customfield_10100"
QUICK = RetryPolicy(attempts=2, max_wait=1.0, first_delay=0.01)
"""The client's own retries, kept short: the outbox retries after them."""
AT_ONCE = OutboxPolicy(batch=100, hold=timedelta(seconds=30), first_backoff=0.0, max_backoff=0.0)
"""A failed row is due again at once (the tests stand in for the passing of time)."""


def worker(db: Database, policy: OutboxPolicy = AT_ONCE) -> JobWorker:
    source = stored_gateway(db, BOX, timeouts=DELIVERY_TIMEOUTS, retry=QUICK)
    return JobWorker(db, outbox_source=source, public_url=PUBLIC, outbox_policy=policy)


def drained(worker: JobWorker) -> int:
    """Deliver until nothing more goes through; how many rows were delivered."""
    total = 0
    while delivered := worker.deliver_outbox():
        total += delivered
    return total


def backlog(db: Database) -> outbox.Backlog:
    return run(db, outbox.backlog, write=False)


def link(legacy: Legacy, issue: str, value: str) -> None:
    reply = legacy("setcrmproperties", issueKey=issue, customFieldId=FIELD, value=value)
    assert reply["success"] is True, reply


def gid(contact: int) -> str:
    return f"accord:CONTACTS:{contact}"


def name_of(api: Api, contact: int) -> str:
    return str(api.entry(f"/contacts/{contact}")["contact_name"])


@pytest.fixture(params=["dc10", "cloud"])
def sim(request: pytest.FixtureRequest, jira: MakeSim, db: Database) -> JiraSim:
    made = jira(request.param)
    connect_sim(db, made)
    return made


def test_a_linked_contact_gets_a_remote_link_on_the_issue(
    db: Database, sim: JiraSim, legacy: Legacy, api: Api
) -> None:
    link(legacy, "CRM-7", "(1),(2)")
    # The CRM write did not wait for Jira: nothing is there until the worker delivers.
    assert sim.remote_links.titles("CRM-7") == {}
    assert backlog(db).pending == 2
    assert drained(worker(db)) == 2
    assert sim.remote_links.titles("CRM-7") == {
        gid(1): name_of(api, 1),
        gid(2): name_of(api, 2),
    }
    remote = sim.remote_links.links["CRM-7"][gid(1)]
    assert remote["object"]["url"] == f"{PUBLIC}/d/CONTACTS/1"
    assert backlog(db).pending == 0
    # Setting the same contacts again writes nothing more.
    link(legacy, "CRM-7", "(2),(1)")
    assert backlog(db).pending == 0


def test_unlinking_or_deleting_a_contact_removes_its_remote_link(
    db: Database, sim: JiraSim, legacy: Legacy, api: Api
) -> None:
    link(legacy, "CRM-8", "(1),(2),(3)")
    link(legacy, "CRM-9", "(3)")
    link(legacy, "CRM-8", "(2),(3)")  # (1) unlinked
    assert api.delete("/contacts/3").status_code == 204  # gone from both issues
    drained(worker(db))
    assert sim.remote_links.titles("CRM-8") == {gid(2): name_of(api, 2)}
    assert sim.remote_links.titles("CRM-9") == {}
    assert [(w.method, w.issue_key, w.global_id) for w in sim.remote_links.writes] == [
        ("POST", "CRM-8", gid(1)),
        ("POST", "CRM-8", gid(2)),
        ("POST", "CRM-8", gid(3)),
        ("POST", "CRM-9", gid(3)),
        ("DELETE", "CRM-8", gid(1)),
        ("DELETE", "CRM-8", gid(3)),
        ("DELETE", "CRM-9", gid(3)),
    ]


def test_renaming_a_linked_contact_updates_its_link_title(
    db: Database, sim: JiraSim, legacy: Legacy, api: Api
) -> None:
    link(legacy, "CRM-10", "(1)")
    drained(worker(db))
    api.ok("PATCH", "/contacts/1", json={"contact_name": "Renamed Person"})
    api.ok("PATCH", "/contacts/3", json={"contact_name": "Not Linked"})
    api.ok("PATCH", "/contacts/1", json={"contact_email": "new@example.com"})  # same name
    assert backlog(db).pending == 1  # only the linked contact's rename
    drained(worker(db))
    assert sim.remote_links.titles("CRM-10") == {gid(1): "Renamed Person"}
    posts = [w for w in sim.remote_links.writes if w.global_id == gid(1)]
    assert len(posts) == 2  # made, then updated by the same globalId: one link
    # A batch renames as a single write does.
    renames = [{"id": 1, "contact_name": "Batch Renamed"}, {"id": 3, "contact_name": "Other"}]
    api.ok("POST", "/contacts/batch", json={"mode": "update", "entries": renames})
    drained(worker(db))
    assert sim.remote_links.titles("CRM-10") == {gid(1): "Batch Renamed"}


def test_links_made_and_removed_over_rest_are_mirrored_as_the_legacy_api_does(
    db: Database, sim: JiraSim, legacy: Legacy, api: Api
) -> None:
    contact = {"directory": "CONTACTS", "id": 1, "role": FIELD}
    company = {"directory": "CLIENTS", "id": 2, "role": "company"}
    api.ok("POST", "/issues/CRM-20/links", 201, json=contact)
    api.ok("POST", "/issues/CRM-20/links", 201, json=company)
    api.ok("POST", "/issues/CRM-20/links", 200, json=contact)  # there already
    # The same contact in a second role: still one remote link.
    api.ok("POST", "/issues/CRM-20/links", 201, json={**contact, "role": "other"})
    assert backlog(db).pending == 2
    drained(worker(db))
    company_name = api.entry("/companies/2")["org_name"]
    assert sim.remote_links.titles("CRM-20") == {
        gid(1): name_of(api, 1),
        "accord:CLIENTS:2": company_name,
    }
    # Unlinked in one role of two: the remote link stays; in every role: it goes.
    assert (
        api.delete("/issues/CRM-20/links/CONTACTS/1", params={"role": "other"}).status_code == 204
    )
    assert backlog(db).pending == 0
    assert api.delete("/issues/CRM-20/links/CONTACTS/1").status_code == 204
    assert api.delete("/issues/CRM-20/links/CLIENTS/2").status_code == 204
    # A link the legacy API made, removed over REST, and the other way round.
    link(legacy, "CRM-21", "(3)")
    assert api.delete("/issues/CRM-21/links/CONTACTS/3").status_code == 204
    api.ok("POST", "/issues/CRM-22/links", 201, json=contact)
    link(legacy, "CRM-22", "")
    drained(worker(db))
    for issue in ("CRM-20", "CRM-21", "CRM-22"):
        assert sim.remote_links.titles(issue) == {}
    writes = [(w.method, w.issue_key, w.global_id) for w in sim.remote_links.writes]
    assert writes[2:] == [
        ("DELETE", "CRM-20", gid(1)),
        ("DELETE", "CRM-20", "accord:CLIENTS:2"),
        ("POST", "CRM-21", gid(3)),
        ("DELETE", "CRM-21", gid(3)),
        ("POST", "CRM-22", gid(1)),
        ("DELETE", "CRM-22", gid(1)),
    ]


def test_jira_down_the_crm_write_succeeds_and_the_backlog_drains_in_order_once(
    db: Database, sim: JiraSim, legacy: Legacy, api: Api
) -> None:
    sim.fail(503, times=1000, path="/remotelink", Retry_After="0")
    original = name_of(api, 1)
    link(legacy, "CRM-11", "(1)")
    api.ok("PATCH", "/contacts/1", json={"contact_name": "First Rename"})
    link(legacy, "CRM-12", "(2)")
    link(legacy, "CRM-11", "(4)")  # (1) unlinked, (4) linked
    api.ok("PATCH", "/contacts/1", json={"contact_name": "Second Rename"})  # unlinked: no write
    down = worker(db)
    assert drained(down) == 0
    assert drained(down) == 0
    waiting = backlog(db)
    assert waiting.pending == 5
    assert waiting.oldest_pending_at is not None
    assert "503" in waiting.last_error
    assert sim.remote_links.writes == []
    sim.faults.clear()  # Jira is back
    assert drained(worker(db)) == 5
    writes = sim.remote_links.writes
    assert [w for w in writes if w.issue_key == "CRM-11"] == [
        Write("POST", "CRM-11", gid(1), original),
        Write("POST", "CRM-11", gid(1), "First Rename"),
        Write("POST", "CRM-11", gid(4), name_of(api, 4)),
        Write("DELETE", "CRM-11", gid(1)),
    ]
    assert [w for w in writes if w.issue_key == "CRM-12"] == [
        Write("POST", "CRM-12", gid(2), name_of(api, 2))
    ]
    assert backlog(db).pending == 0
    assert sim.remote_links.titles("CRM-11") == {gid(4): name_of(api, 4)}


def test_an_issue_jira_refuses_waits_while_the_others_go_on(
    db: Database, sim: JiraSim, legacy: Legacy, api: Api
) -> None:
    sim.remote_links.missing.add("GONE-1")
    link(legacy, "GONE-1", "(1)")
    link(legacy, "CRM-18", "(2)")
    patient = worker(db, OutboxPolicy(first_backoff=60.0))
    assert [patient.deliver_outbox() for _ in range(3)] == [0, 1, 0]
    assert sim.remote_links.titles("CRM-18") == {gid(2): name_of(api, 2)}
    waiting = backlog(db)
    assert waiting.pending == 1  # kept, to be tried again in a minute
    assert waiting.last_error.startswith("Jira at ")
    assert "(404)" in waiting.last_error


def test_a_dropped_connection_is_retried_by_the_outbox(
    db: Database, sim: JiraSim, legacy: Legacy, api: Api
) -> None:
    sim.drop(times=3)
    link(legacy, "CRM-13", "(1)")
    retrying = worker(db)
    # A POST cut off may have reached Jira: the client does not repeat it, the outbox does.
    assert [retrying.deliver_outbox() for _ in range(4)] == [0, 0, 0, 1]
    assert backlog(db).pending == 0
    assert "Server disconnected" in backlog(db).last_error
    assert sim.remote_links.titles("CRM-13") == {gid(1): name_of(api, 1)}


def test_a_worker_that_dies_mid_delivery_is_made_up_for_once_its_claim_runs_out(
    db: Database, sim: JiraSim, legacy: Legacy, api: Api
) -> None:
    short = OutboxPolicy(batch=100, hold=timedelta(seconds=1), first_backoff=0.0)
    link(legacy, "CRM-14", "(1),(2)")
    # A worker claims the rows and sends them, then dies before writing down that it did.
    claimed = run(db, lambda tx: outbox.claim(tx, short), write=True)
    with stored_gateway(db, BOX)() as jira:
        assert jira is not None
        sent = outbox.deliver(claimed, jira, public_url=PUBLIC, deadline=time.monotonic() + 9)
    assert len(sent.delivered) == 2
    survivor = worker(db, short)
    assert survivor.deliver_outbox() == 0  # still claimed: not sent twice at once
    time.sleep(1.1)
    assert drained(survivor) == 2
    assert backlog(db).pending == 0
    # Sent again (at least once), and idempotent on Jira's side: each link there once.
    assert sim.remote_links.titles("CRM-14") == {
        gid(1): name_of(api, 1),
        gid(2): name_of(api, 2),
    }


def test_a_rolled_back_change_sends_nothing(db: Database, sim: JiraSim) -> None:
    class Abandoned(Exception):
        pass

    def work(tx: Transaction) -> None:
        issues.set_crm_properties(tx, "CRM-15", FIELD, "(1)", actor=Actor.system("cli"))
        assert outbox.backlog(tx).pending == 1  # queued in the change's own transaction
        raise Abandoned

    with pytest.raises(Abandoned):
        run(db, work, write=True)
    assert backlog(db).pending == 0
    assert drained(worker(db)) == 0
    assert sim.remote_links.writes == []


def test_nothing_is_queued_while_jira_is_not_connected(
    db: Database, legacy: Legacy, api: Api
) -> None:
    link(legacy, "CRM-16", "(1)")
    api.ok("PATCH", "/contacts/1", json={"contact_name": "Renamed Offline"})
    assert backlog(db).pending == 0


def test_status_shows_the_backlog_and_the_last_failure(
    db: Database,
    sim: JiraSim,
    legacy: Legacy,
    admin: Api,
    demo_url: str,
    tmp_path: Path,
) -> None:
    status: dict[str, Any] = admin.ok("GET", "/jira")["outbox"]
    assert status == {
        "pending": 0,
        "oldest_pending_at": None,
        "oldest_pending_seconds": None,
        "last_error": None,
        "last_error_at": None,
    }
    sim.fail(429, times=1000, path="/remotelink", Retry_After="0")
    link(legacy, "CRM-17", "(1),(2)")
    worker(db).deliver_outbox()
    status = admin.ok("GET", "/jira")["outbox"]
    assert status["pending"] == 2
    assert status["oldest_pending_seconds"] >= 0
    assert status["last_error"].startswith("Jira answered 429 to POST /rest/api/")
    lines = Cli(demo_url, tmp_path, ACCORD_SECRET_KEY=SECRET_KEY)("status").stdout
    assert "writes to Jira waiting: 2, the oldest for " in lines
    assert "last failed write to Jira: " in lines
    assert "Jira answered 429 to POST" in lines
