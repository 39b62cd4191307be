"""Connecting Jira over REST and the CLI: checked on the simulator before anything is
saved, the secret stored encrypted and never shown, and a running server following a
connection made while it runs."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from accord.jira.source import stored_gateway
from accord.jobs.worker import JobWorker
from accord.services import sync
from accord.services.secrets import SecretBox
from accord.services.transactions import Database, run
from accord.store import tables as t
from tests.functional.api_support import Api, ClientOf, problem
from tests.functional.jira.conftest import Cli, MakeSim
from tests.jira_sim import server as sim_server
from tests.support import SECRET_KEY

DC_TOKEN = {"token": sim_server.TOKEN}
CLOUD_LOGIN = {"email": sim_server.CLOUD_EMAIL, "api_token": sim_server.API_TOKEN, "cloud": True}


def stored_rows(db: Database) -> list[dict[str, object]]:
    with db.engine.connect() as connection:
        rows = connection.execute(sa.select(t.jira_connection)).mappings().all()
    return [dict(row) for row in rows]


def test_an_administrator_connects_data_center_and_sees_its_status(
    admin: Api, jira: MakeSim, db: Database
) -> None:
    sim = jira("dc9")
    body = admin.ok("PUT", "/jira", json={"url": sim.url + "/", **DC_TOKEN})
    assert body["connected"]
    assert body["reachable"]
    assert (body["url"], body["deployment"], body["auth"]) == (sim.url, "datacenter", "token")
    assert body["server"] == {
        "title": "Simulated Jira",
        "version": "9.12.15",
        "deployment_type": "Server",
        "account": "jira-admin (Sim Admin)",
    }
    assert sim_server.TOKEN not in str(body)
    assert sim_server.TOKEN not in admin.get("/jira").text
    (row,) = stored_rows(db)
    assert sim_server.TOKEN not in str(row)  # encrypted: the database alone does not tell it
    box = SecretBox(key=SECRET_KEY, key_file=Path("unused"))
    assert box.decrypt(str(row["secret"])) == sim_server.TOKEN
    assert admin.ok("GET", "/jira")["server"]["account"] == "jira-admin (Sim Admin)"


def test_a_cloud_site_is_connected_with_an_email_and_api_token(admin: Api, jira: MakeSim) -> None:
    sim = jira("cloud")
    body = admin.ok("PUT", "/jira", json={"url": sim.url, **CLOUD_LOGIN})
    assert (body["deployment"], body["auth"], body["user"]) == (
        "cloud",
        "api-token",
        sim_server.CLOUD_EMAIL,
    )
    assert body["server"]["deployment_type"] == "Cloud"


@pytest.mark.parametrize(
    ("login", "status", "code", "detail"),
    [
        (
            {"token": "wrong"},
            422,
            "jira_refused",
            "Jira refused the credential (401 Unauthorized): check the token, the user and "
            "password, or the e-mail and API token",
        ),
        ({"user": "jira-admin"}, 422, "invalid_credential", None),
        ({"token": "a", "user": "b", "password": "c"}, 422, "invalid_credential", None),
    ],
)
def test_a_wrong_credential_is_one_clear_error_and_saves_nothing(
    admin: Api,
    jira: MakeSim,
    db: Database,
    login: dict[str, str],
    status: int,
    code: str,
    detail: str | None,
) -> None:
    sim = jira("dc10")
    problem(admin.put("/jira", json={"url": sim.url, **login}), status, code, detail=detail)
    assert stored_rows(db) == []
    assert admin.ok("GET", "/jira")["connected"] is False


@pytest.mark.parametrize(
    ("url", "status", "code", "message"),
    [
        ("http://127.0.0.1:9", 502, "jira_unavailable", "cannot be reached"),
        ("ftp://jira.example.com", 422, "invalid_jira_address", "Not a Jira address"),
        ("jira.example.com", 422, "invalid_jira_address", "Not a Jira address"),
    ],
)
def test_a_wrong_address_is_one_clear_error_and_saves_nothing(
    admin: Api, db: Database, url: str, status: int, code: str, message: str
) -> None:
    body = problem(admin.put("/jira", json={"url": url, **DC_TOKEN}), status, code)
    assert message in body["detail"]
    assert "\n" not in body["detail"]
    assert stored_rows(db) == []


def test_an_address_that_is_no_jira_is_refused(admin: Api, jira: MakeSim, db: Database) -> None:
    sim = jira("dc9")
    body = problem(
        admin.put("/jira", json={"url": sim.url + "/wiki", **DC_TOKEN}), 502, "jira_not_found"
    )
    assert "is it the address of a Jira?" in body["detail"]
    assert stored_rows(db) == []


def test_only_administrators_see_or_change_the_connection(
    client_of: ClientOf, jira: MakeSim, db: Database
) -> None:
    sim = jira("dc9")
    manager = client_of("manager")
    for method, path in (("GET", "/jira"), ("DELETE", "/jira"), ("POST", "/jira/sync")):
        problem(manager.request(method, path), 403, "permission_denied")
    problem(manager.put("/jira", json={"url": sim.url, **DC_TOKEN}), 403, "permission_denied")
    assert sim.requests.total() == 0  # refused before a byte went to Jira
    assert stored_rows(db) == []


def test_disconnecting_forgets_the_secret(admin: Api, jira: MakeSim, db: Database) -> None:
    sim = jira("dc9")
    admin.ok("PUT", "/jira", json={"url": sim.url, **DC_TOKEN})
    assert admin.delete("/jira").status_code == 204
    assert stored_rows(db) == []
    assert admin.ok("GET", "/jira")["connected"] is False
    problem(admin.delete("/jira"), 409, "jira_not_connected")


def test_a_running_server_syncs_with_a_connection_made_after_it_started(
    admin: Api, jira: MakeSim, db: Database
) -> None:
    box = SecretBox(key=SECRET_KEY, key_file=Path("unused"))
    worker = JobWorker(db, jira_source=stored_gateway(db, box))
    assert admin.ok("POST", "/jira/sync", 202)["job"]
    assert worker.run_once()
    assert admin.ok("GET", "/jira")["last_error"] == "Jira is not connected"
    sim = jira("dc10")
    sim.add_users(3)
    admin.ok("PUT", "/jira", json={"url": sim.url, **DC_TOKEN})
    job = admin.ok("POST", "/jira/sync", 202)["job"]
    assert worker.run_once()
    status = admin.ok("GET", "/jira")
    assert status["last_sync"]["status"] == "done"
    assert status["last_sync"]["detail"].startswith("3 Jira users: 3 users created")
    assert status["last_error"] is None  # the newest sync that ended went well
    assert run(db, lambda tx: sync.job_by_id(tx, job), write=False).status == "done"  # type: ignore[union-attr]


def test_the_cli_connects_shows_syncs_and_disconnects(
    demo_url: str, jira: MakeSim, tmp_path: Path, db: Database
) -> None:
    sim = jira("dc9")
    sim.add_users(300)
    cli = Cli(demo_url, tmp_path, ACCORD_SECRET_KEY_FILE=str(tmp_path / "secret.key"))
    bad = cli("connect", sim.url, "--user", sim_server.ADMIN, "--password", "nope")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "error: Jira refused the credential (401 Unauthorized): check the token, the user and "
        "password, or the e-mail and API token"
    ]
    assert not (tmp_path / "secret.key").exists()
    done = cli("connect", sim.url, "--user", sim_server.ADMIN, "--password", sim_server.PASSWORD)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "connected to Simulated Jira (Server 9.12.15) as jira-admin (Sim Admin)\n"
    key_file = tmp_path / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    status = cli("status")
    assert status.returncode == 0, status.stderr
    assert f"Jira: {sim.url} (datacenter, password: jira-admin)" in status.stdout
    assert "reachable: yes; Simulated Jira Server 9.12.15, acting as jira-admin" in status.stdout
    assert "last sync: never" in status.stdout
    assert "writes to Jira waiting: none" in status.stdout
    synced = cli("sync")
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.startswith("300 Jira users: 300 users created")
    assert "fetching users from Jira: 300" in synced.stderr
    assert "syncing users [##############################] 300/300" in synced.stderr
    assert "last sync: done at" in cli("status").stdout
    assert sim_server.PASSWORD not in status.stdout + synced.stdout + synced.stderr
    # Without the key, the stored secret cannot be read: said in one line.
    key_file.rename(tmp_path / "elsewhere.key")
    lost = cli("sync")
    assert lost.returncode == 1
    assert (
        lost.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: The secret key file {key_file} is missing")
    )
    assert cli("disconnect").stdout == "disconnected\n"
    assert "Jira: not connected" in cli("status").stdout
    again = cli("disconnect")
    assert (again.returncode, again.stderr) == (1, "error: Jira is not connected\n")
