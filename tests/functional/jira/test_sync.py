"""The user sync against the simulator: everyone reached at any count, each Jira user an
Accord user and a contact (matched by login, then e-mail), inactive users disabled and
nothing deleted, a second run changing nothing; started by the legacy `sync` command."""

import time

import pytest
import sqlalchemy as sa

from accord.domain.users import Actor
from accord.jira.source import stored_gateway
from accord.jobs.worker import JobWorker
from accord.services import sync
from accord.services.transactions import Database, run
from accord.store import tables as t
from tests.functional.api_support import Api
from tests.functional.jira.conftest import BOX, MakeSim, connect_sim
from tests.jira_sim.server import JiraSim, SimUser
from tests.support import Legacy

CLI = Actor.system("cli")


def connected(db: Database, sim: JiraSim, groups: tuple[str, ...] = ()) -> JobWorker:
    """Connect the simulator (as `accord jira connect` does); a worker that syncs with it."""
    connect_sim(db, sim, groups)
    return JobWorker(db, jira_source=stored_gateway(db, BOX))


def synced(db: Database, worker: JobWorker) -> str:
    """Run a sync to its end; what it recorded."""
    run(db, lambda tx: sync.request_user_sync(tx, actor=CLI), write=True)
    assert worker.run_once()
    job = run(db, sync.user_sync_jobs, write=False)[-1]
    assert job.status == "done", job.detail
    return job.detail


def jira_users(db: Database) -> dict[str, tuple[str, str, bool]]:
    """Accord's users synced from Jira: key -> (login, e-mail, active)."""
    query = sa.select(t.users.c.jira_key, t.users.c.login, t.users.c.email, t.users.c.is_active)
    with db.engine.connect() as connection:
        rows = connection.execute(query.where(t.users.c.jira_key.is_not(None))).all()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def counts(db: Database) -> tuple[int, int]:
    """How many entries and history rows the database holds."""
    with db.engine.connect() as connection:
        entries = connection.execute(sa.select(sa.func.count()).select_from(t.entries)).scalar()
        history = connection.execute(sa.select(sa.func.count()).select_from(t.history)).scalar()
    return int(entries or 0), int(history or 0)


def contacts_with(api: Api, field: str, value: str) -> list[dict[str, object]]:
    return api.items("/contacts", filter=f"{field} eq '{value}'")


def test_5000_users_of_jira_9_are_all_synced_and_a_second_run_changes_nothing(
    db: Database, jira: MakeSim, api: Api
) -> None:
    sim = jira("dc9")
    sim.add_users(5000)
    worker = connected(db, sim)
    started = time.monotonic()
    detail = synced(db, worker)
    first_run = time.monotonic() - started
    assert detail == (
        "5000 Jira users: 5000 users created, 0 updated, 0 disabled; "
        "contacts: 5000 created, 0 updated, 0 matched; 0 errors"
    )
    assert jira_users(db).keys() == {u.key for u in sim.users}
    person = sim.users[4321]
    (contact,) = contacts_with(api, "contact_login", person.name)
    assert (contact["contact_name"], contact["contact_email"]) == (
        person.display_name,
        person.email,
    )
    before = counts(db)
    assert synced(db, worker) == (
        "5000 Jira users: 0 users created, 0 updated, 0 disabled; "
        "contacts: 0 created, 0 updated, 5000 matched; 0 errors"
    )
    assert counts(db) == before
    assert first_run < 120  # seconds (the figure is in the report; not a benchmark)


def test_250_users_of_jira_10_are_listed_by_cursor(db: Database, jira: MakeSim) -> None:
    sim = jira("dc10")
    sim.add_users(250)
    assert synced(db, connected(db, sim)).startswith("250 Jira users: 250 users created")
    assert len(jira_users(db)) == 250
    assert sim.requests["/rest/api/2/user/list"] == 1
    assert sim.requests["/rest/api/2/user/search"] == 0


def test_cloud_app_accounts_are_left_out_and_hidden_emails_tolerated(
    db: Database, jira: MakeSim, api: Api
) -> None:
    sim = jira("cloud")
    sim.add_users(30)
    sim.add_user(SimUser("app-account-1", "", "Automation for Jira", "", account_type="app"))
    private = sim.users[3]
    private.email_hidden = True
    assert synced(db, connected(db, sim)).startswith("30 Jira users: 30 users created")
    found = jira_users(db)
    assert "app-account-1" not in found
    assert found[private.key] == (private.key, "", True)
    assert found[sim.users[4].key] == (sim.users[4].email, sim.users[4].email, True)
    (contact,) = contacts_with(api, "contact_login", private.key)
    assert contact["contact_name"] == private.display_name
    assert contact.get("contact_email") in (None, "")


def test_users_gone_inactive_or_removed_are_disabled_and_nothing_is_deleted(
    db: Database, jira: MakeSim, api: Api
) -> None:
    sim = jira("dc10")
    sim.add_users(20)
    worker = connected(db, sim)
    synced(db, worker)
    leaving, removed = sim.users[2], sim.users.pop(3)
    leaving.active = False
    entries_before, _ = counts(db)
    assert synced(db, worker).startswith(
        "19 Jira users: 0 users created, 1 updated, 1 disabled; contacts: 0 created"
    )
    found = jira_users(db)
    assert found[leaving.key][2] is False
    assert found[removed.key][2] is False
    assert counts(db)[0] == entries_before  # their contacts stay
    assert contacts_with(api, "contact_login", removed.name)
    leaving.active = True
    assert "1 updated, 0 disabled" in synced(db, worker)
    assert jira_users(db)[leaving.key][2] is True


@pytest.mark.parametrize("flavour", ["dc9", "cloud"])
def test_with_groups_configured_only_their_members_are_synced(
    db: Database, jira: MakeSim, flavour: str
) -> None:
    sim = jira(flavour)
    sim.add_users(200)
    sim.groups = {
        "crm-users": [u.key for u in sim.users[:120]],
        "sales": [u.key for u in sim.users[100:130]],
    }
    sim.users[5].active = False
    detail = synced(db, connected(db, sim, ("crm-users", "sales")))
    assert detail.startswith("130 Jira users: 130 users created")
    found = jira_users(db)
    assert found.keys() == {u.key for u in sim.users[:130]}
    assert found[sim.users[5].key][2] is False
    assert sim.requests[f"{sim.api}/group/member"] == 4  # 120 in 3 pages of 50, 30 in 1


def test_contacts_are_matched_by_login_then_email_in_any_case(
    db: Database, jira: MakeSim, api: Api
) -> None:
    sim = jira("dc10")
    sim.add_users(3)
    by_login, by_email, new = sim.users
    first = api.ok(
        "POST",
        "/contacts",
        201,
        json={"contact_name": "Someone", "contact_login": by_login.name.upper()},
    )
    second = api.ok(
        "POST",
        "/contacts",
        201,
        json={"contact_name": "Else", "contact_email": by_email.email.upper()},
    )
    detail = synced(db, connected(db, sim))
    assert detail.endswith("contacts: 1 created, 2 updated, 2 matched; 0 errors")
    matched = api.ok("GET", f"/contacts/{first['id']}")
    assert (matched["contact_name"], matched["contact_email"]) == ("Someone", by_login.email)
    filled = api.ok("GET", f"/contacts/{second['id']}")
    assert (filled["contact_name"], filled["contact_login"]) == ("Else", by_email.name)
    assert filled["contact_email"] == by_email.email.upper()  # kept as it was
    assert contacts_with(api, "contact_login", new.name)[0]["contact_name"] == new.display_name


def test_a_user_whose_login_belongs_to_another_jira_user_is_an_error_recorded(
    db: Database, jira: MakeSim
) -> None:
    sim = jira("dc10")
    sim.add_users(2)
    worker = connected(db, sim)
    synced(db, worker)
    # The account left Jira, and a new one took its login: Accord's user keeps it.
    gone = sim.users.pop(0)
    sim.add_user(SimUser("JIRAUSER77777", gone.name, "New Comer", "new@corp.example"))
    assert synced(db, worker) == (
        "2 Jira users: 0 users created, 0 updated, 1 disabled; contacts: 0 created, "
        f"0 updated, 1 matched; 1 errors; {gone.name}: login {gone.name} belongs to "
        "another Jira user"
    )
    assert "JIRAUSER77777" not in jira_users(db)


def test_the_legacy_sync_command_queues_a_sync_and_answers_at_once(
    db: Database, jira: MakeSim, legacy: Legacy
) -> None:
    sim = jira("dc9")
    sim.add_users(40)
    worker = connected(db, sim)
    assert legacy("sync") == {"success": True}
    assert legacy("sync") == {"success": True}  # joins the sync already queued
    (job,) = run(db, sync.user_sync_jobs, write=False)
    assert job.status == "queued"
    assert worker.run_once()
    assert run(db, sync.user_sync_jobs, write=False)[0].status == "done"
    # A Jira login is a user of the legacy API now (with no rights yet).
    as_jira_user = legacy.as_user(sim.users[0].name)("getcompanies")
    assert as_jira_user == {"success": False, "details": "Permission denied: CRM Main Menu"}
    assert legacy.as_user("nobody-at-all")("getcompanies")["details"] == "User not found"


def test_a_scheduled_sync_runs_only_while_jira_is_connected(db: Database, jira: MakeSim) -> None:
    idle = JobWorker(db, jira_source=stored_gateway(db, BOX), sync_every=60)
    assert idle.schedule_sync() is None
    assert run(db, sync.user_sync_jobs, write=False) == []
    sim = jira("dc10")
    sim.add_users(5)
    worker = connected(db, sim)
    worker.sync_every = 60
    job = worker.schedule_sync()
    assert job is not None
    assert worker.schedule_sync() == job  # joins the one queued
    assert worker.run_once()
    (done,) = run(db, sync.user_sync_jobs, write=False)
    assert (done.status, done.requested_by) == ("done", None)


def test_a_rename_onto_a_login_accord_already_has_is_an_error_and_the_rest_goes_on(
    db: Database, jira: MakeSim
) -> None:
    sim = jira("dc10")
    sim.add_users(3)
    worker = connected(db, sim)
    synced(db, worker)
    renamed = sim.users[0]
    renamed.name = "manager"  # the demo's own user, not from Jira
    sim.users[1].display_name = "Changed Name"
    assert synced(db, worker) == (
        "3 Jira users: 0 users created, 1 updated, 0 disabled; contacts: 0 created, "
        "0 updated, 2 matched; 1 errors; manager: login manager belongs to another user"
    )
    assert jira_users(db)[renamed.key][0] != "manager"
