"""The administrator's command line, run as a real `accord` process on a real database.

What each command prints is what an administrator reads; its effect is checked where a
user notices it, through the legacy API of a running server.
"""

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from accord.services.transactions import Database, open_database
from accord.store import migrate
from tests.functional.api_support import Api, expire_token, problem
from tests.support import (
    KEY,
    PG_URL,
    InProcessServer,
    Legacy,
    Server,
    Templates,
    dump,
    settings_for,
)

ACCORD = shutil.which("accord", path=str(Path(sys.executable).parent)) or "accord"
FIELD_CODE = re.compile(
    r"clients_field_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
NOT_UPGRADED = "run `accord db upgrade`"
TOKEN = re.compile(r"acc_[A-Za-z0-9_-]{43}")


class Cli:
    """`accord ...` in a process of its own, with ACCORD_DATABASE_URL naming one database."""

    def __init__(self, url: str, folder: Path) -> None:
        self.env = {**os.environ, "ACCORD_DATABASE_URL": url}
        self.folder = folder

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ACCORD, *args],
            env=self.env,
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def run_all(self, commands: list[tuple[str, ...]]) -> list[subprocess.CompletedProcess[str]]:
        """Independent commands, run side by side: each process spends most of its time
        starting Python, so this saves the test suite's time, not the database's."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda args: self.run(*args), commands))

    def __call__(self, *args: str) -> list[str]:
        """Run a command that must succeed; the lines it printed."""
        return printed(self.run(*args))

    def side_by_side(self, *commands: tuple[str, ...]) -> list[list[str]]:
        """Run independent commands that must succeed; the lines each printed."""
        return [printed(result) for result in self.run_all(list(commands))]

    def fails(self, *args: str) -> str:
        """Run a command that must fail; what it told (see `told`)."""
        return told(self.run(*args))


def printed(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines a command that must succeed printed (status 0, nothing on stderr)."""
    assert (result.returncode, result.stderr) == (0, ""), (result.args, result.stderr)
    return result.stdout.splitlines()


def told(result: subprocess.CompletedProcess[str]) -> str:
    """A failed command's one `error:` line (status 1, nothing else printed); else all of it."""
    lines = result.stderr.splitlines()
    if (result.returncode, result.stdout, len(lines)) == (1, "", 1) and lines[0].startswith(
        "error: "
    ):
        return lines[0]
    return f"status {result.returncode}, stdout {result.stdout!r}, stderr {result.stderr!r}"


@pytest.fixture
def bare_url(templates: Templates, tmp_path: Path) -> Iterator[str]:
    """A database never upgraded: a SQLite file not created yet, or an empty PostgreSQL one."""
    if templates.backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.db'}"
        return
    admin = sa.create_engine(PG_URL or "", isolation_level="AUTOCOMMIT")
    name = f"accord_bare_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(PG_URL or "").set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture
def cli(demo_url: str, tmp_path: Path) -> Cli:
    """The command line on a fresh demo database (the one `server` serves)."""
    return Cli(demo_url, tmp_path)


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["success"] is True, reply
    return reply


def denied(right: str) -> dict[str, Any]:
    return {"success": False, "details": f"Permission denied: {right}"}


def client(server: Server, *, user: str = "admin", key: str = KEY) -> closing[Legacy]:
    return closing(Legacy(server.client(), key=key, user=user))


PASSWORD_LINE = "Admin password: accord-demo-password"
DEMO_LOADED = [
    "Demo data loaded.",
    "API key: accord-demo-key",
    "Admin login: admin",
    PASSWORD_LINE,
]
DEMO_ALREADY = [
    "Demo data already loaded.",
    "API key: accord-demo-key",
    "Admin login: admin",
    PASSWORD_LINE,
]


# The database and the demo


def test_commands_on_a_database_never_upgraded_say_to_run_db_upgrade(
    bare_url: str, tmp_path: Path
) -> None:
    cli = Cli(bare_url, tmp_path)
    commands = [
        ("user", "list"),
        ("user", "add", "bob"),
        ("directory", "list"),
        ("demo", "--if-needed"),
        ("serve", "--port", "0"),
    ]
    results = zip(commands, cli.run_all(commands), strict=True)
    wrong = [
        f"accord {' '.join(args)}: status {result.returncode}, {result.stderr.strip()[-200:]}"
        for args, result in results
        if not (told(result).startswith("error: ") and NOT_UPGRADED in told(result))
    ]
    assert wrong == [], "\n".join(wrong)


def test_db_upgrade_then_demo_if_needed_as_make_run_does(bare_url: str, tmp_path: Path) -> None:
    cli = Cli(bare_url, tmp_path)
    assert cli("db", "upgrade") == [f"database at revision {migrate.head()}"]
    assert cli("db", "upgrade") == [f"database at revision {migrate.head()}"]
    assert cli("demo", "--if-needed") == DEMO_LOADED
    database = open_database(bare_url, sqlite_synchronous="NORMAL")
    try:
        loaded = dump(database)
        assert cli("demo", "--if-needed") == DEMO_ALREADY
        assert dump(database) == loaded
        with InProcessServer(settings_for(bare_url), database) as server, client(server) as legacy:
            assert ok(legacy("getcompanybyname", companyName="Teamlead"))["id"] == "2"
    finally:
        database.dispose()


def test_demo_loads_once_and_prints_the_key_and_the_login(empty_url: str, tmp_path: Path) -> None:
    cli = Cli(empty_url, tmp_path)
    assert cli("demo") == DEMO_LOADED
    database = open_database(empty_url, sqlite_synchronous="NORMAL")
    try:
        loaded = dump(database)
        with InProcessServer(settings_for(empty_url), database) as server, client(server) as legacy:
            assert ok(legacy("getcontactbyname", contactName="Ted Johnson"))["id"] == "6"
        assert cli.fails("demo") == "error: The demo data set is already loaded"
        assert dump(database) == loaded
    finally:
        database.dispose()


# The API key


def test_apikey_generate_prints_a_new_key_that_replaces_the_old_one(
    cli: Cli, server: Server, legacy: Legacy
) -> None:
    ok(legacy("getcompanies"))
    printed = cli("apikey", "generate")
    assert len(printed) == 1
    key = printed[0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", key), key
    assert legacy("getcompanies") == {"success": False, "details": "Wrong API key"}
    with client(server, key=key) as fresh:
        ok(fresh("getcompanies"))
    assert cli("demo", "--if-needed") == [
        "Demo data already loaded.",
        "API key: (changed since the demo was loaded)",
        "Admin login: admin",
        PASSWORD_LINE,
    ]


def test_apikey_set_makes_the_key_given_the_only_one_accepted(
    cli: Cli, server: Server, legacy: Legacy
) -> None:
    assert cli("apikey", "set", "our-own-key-2026") == ["API key set"]
    assert legacy("getcompanies") == {"success": False, "details": "Wrong API key"}
    with client(server, key="our-own-key-2026") as fresh:
        ok(fresh("getcompanies"))


# Users, groups and rights


def test_users_are_added_listed_disabled_and_enabled(cli: Cli, server: Server) -> None:
    assert cli.side_by_side(
        ("user", "add", "alice", "--email", "alice@example.org"), ("user", "add", "Boss", "--admin")
    ) == [["user alice added"], ["user Boss added (administrator)"]]
    assert cli("user", "list") == [
        "admin\tadmin@accord.example\tadmin\tactive",
        "alice\talice@example.org\tuser\tactive",
        "Boss\t\tadmin\tactive",
        "manager\tmanager@accord.example\tuser\tactive",
        "viewer\tviewer@accord.example\tuser\tactive",
    ]
    with client(server, user="Boss") as boss, client(server, user="alice") as alice:
        assert ok(boss("getcompanies"))["companies"]
        # Alice exists, but holds no right yet.
        assert alice("getcompanies") == denied("CRM Main Menu")
        assert cli("user", "disable", "alice") == ["user alice disabled"]
        assert "alice\talice@example.org\tuser\tdisabled" in cli("user", "list")
        assert alice("getcompanies") == {"success": False, "details": "User not found"}
        assert cli("user", "enable", "alice") == ["user alice enabled"]
        assert alice("getcompanies") == denied("CRM Main Menu")


def test_rights_granted_and_revoked_apply_to_a_running_server_at_once(
    cli: Cli, server: Server
) -> None:
    assert cli.side_by_side(("user", "add", "carol"), ("group", "add", "Support")) == [
        ["user carol added"],
        ["group Support added"],
    ]
    with client(server, user="carol") as carol:
        assert cli("grant", "companies.view", "--user", "carol") == [
            "companies.view granted to carol"
        ]
        assert carol("getcompanies") == denied("CRM Main Menu")
        assert cli("grant", "main-menu", "--user", "carol") == ["main-menu granted to carol"]
        assert ok(carol("getcompanies"))["companies"]
        assert carol("getcontacts") == denied("View Contacts")

        assert cli("group", "members", "Support", "carol") == ["carol"]
        assert cli("grant", "contacts.all", "--group", "Support") == [
            "contacts.all granted to Support"
        ]
        assert ok(carol("getcontacts"))["contacts"]
        phone = {"clients-contact_phone": "+1 555 0199"}
        assert ok(carol("editcontact", contactId="2", **phone))["contact_phone"] == "+1 555 0199"

        assert cli("revoke", "contacts.edit", "--group", "Support") == [
            "contacts.edit revoked from Support"
        ]
        assert carol("editcontact", contactId="2", **phone) == denied("Edit contacts")
        assert ok(carol("getcontacts"))["contacts"]
        assert cli("revoke", "companies.view", "--user", "carol") == [
            "companies.view revoked from carol"
        ]
        assert carol("getcompanies") == denied("View Companies")
    assert cli.side_by_side(
        ("revoke", "companies.view", "--user", "carol"),
        ("grant", "main-menu", "--group", "Sales"),
        ("group", "members", "Support"),
        ("group", "list"),
    ) == [
        ["companies.view revoked from carol (was not held)"],
        ["main-menu granted to Sales (already held)"],
        ["carol"],
        ["Sales", "Support"],
    ]


# Directories, fields and dictionaries


def test_a_directory_added_is_listed_and_takes_entries_through_the_api(
    cli: Cli, legacy: Legacy
) -> None:
    assert cli("directory", "add", "PROJECTS", "Projects") == [
        "directory PROJECTS (Projects) added"
    ]
    assert cli("directory", "list") == [
        "CLIENTS\tCompanies",
        "CONTACTS\tContacts",
        "PRODUCTS\tProducts",
        "TRANSACTIONS\tTransactions",
        "PROJECTS\tProjects",
    ]
    created = ok(legacy("updateOrCreateEntity", tableName="Projects", id="", Name="Apollo"))
    assert created["name"] == "Apollo"
    records = ok(legacy("searchentities", tableName="PROJECTS"))["records"]
    assert [(r["id"], r["name"]) for r in records] == [(created["id"], "Apollo")]


def test_fields_and_dictionaries_added_are_listed_and_used_through_the_api(
    cli: Cli, legacy: Legacy
) -> None:
    [region], created = cli.side_by_side(
        ("field", "add", "CLIENTS", "Region"), ("dictionary", "add", "Tiers", "Gold", "Silver")
    )
    assert FIELD_CODE.fullmatch(region), region
    assert created == ["dictionary Tiers added with 2 values"]
    [tier] = cli("field", "add", "CLIENTS", "Tier", "--type", "dictionary", "--dictionary", "Tiers")
    [vat] = cli("field", "add", "companies", "VAT number", "--unique")
    assert FIELD_CODE.fullmatch(tier), tier
    assert FIELD_CODE.fullmatch(vat), vat
    assert len({region, tier, vat}) == 3

    values = {f"clients-{region}": "North", f"clients-{tier}": "gold", f"clients-{vat}": "DE123"}
    edited = ok(legacy("editcompany", companyId="2", **values))
    assert (edited[region], edited[tier], edited[vat]) == ("North", "Gold", "DE123")
    assert ok(legacy("getcompanybyname", companyName="Teamlead"))[region] == "North"
    assert legacy("editcompany", companyId="3", **{f"clients-{vat}": "DE123"}) == {
        "success": False,
        "details": "Value 'DE123' of unique field 'VAT number' already exists",
    }
    ok(legacy("adddictionaryvalue", dictionaryName="tiers", newvalue="Bronze"))

    fields, dictionaries, tiers = cli.side_by_side(
        ("field", "list", "CLIENTS"), ("dictionary", "list"), ("dictionary", "list", "Tiers")
    )
    assert fields[0] == "org_name\tCompany name\ttext\trequired\tunique"
    assert fields[-3:] == [
        f"{region}\tRegion\ttext",
        f"{tier}\tTier\tdictionary",
        f"{vat}\tVAT number\ttext\tunique",
    ]
    assert dictionaries == [
        "Type",
        "Industry",
        "SLA",
        "Position",
        "Currency",
        "Colors",
        "Services",
        "Tiers",
    ]
    assert [line.split("\t")[1] for line in tiers] == ["Gold", "Silver", "Bronze"]
    ids = [line.split("\t")[0] for line in tiers]
    assert all(i.isdigit() for i in ids)
    assert len(set(ids)) == 3


# REST API tokens


@contextmanager
def rest(server: Server, token: str) -> Iterator[Api]:
    """A client of the REST API for `token`."""
    api = Api(server.client(), token)
    try:
        yield api
    finally:
        api.close()


def create_token(cli: Cli, *options: str, login: str = "manager") -> tuple[str, str]:
    """`accord token create`'s line about the token, and the token, alone on the last line."""
    *said, token = cli("token", "create", login, *options)
    assert TOKEN.fullmatch(token), token
    assert len(said) == 1
    assert token not in said[0]
    return said[0], token


def token_list(cli: Cli, login: str = "manager") -> list[list[str]]:
    """`accord token list`: id, name, scope, expiry, last use, state, for each token."""
    return [line.split("\t") for line in cli("token", "list", login)]


def test_a_token_acts_as_its_user_over_rest_with_all_its_rights(cli: Cli, server: Server) -> None:
    said, token = create_token(cli)
    assert re.fullmatch(r"token \d+ for manager: read-write, all directories, expires never", said)
    with rest(server, token) as api:
        assert api.ok("GET", "/me")["login"] == "manager"
        created = api.ok("POST", "/companies", 201, json={"org_name": "Token Co"})
        assert created["org_name"] == "Token Co"
        assert api.ok("GET", "/directories/PRODUCTS/entries")["items"]


def test_a_read_only_token_reads_and_is_refused_any_write(cli: Cli, server: Server) -> None:
    said, token = create_token(cli, "--read-only")
    assert re.fullmatch(r"token \d+ for manager: read-only, all directories, expires never", said)
    with rest(server, token) as api:
        assert api.ok("GET", "/companies")["items"]
        problem(api.post("/companies", json={"org_name": "Refused Co"}), 403, "permission_denied")
        problem(api.patch("/contacts/1", json={"contact_phone": "1"}), 403, "permission_denied")
        assert api.ok("GET", "/companies", params={"q": "Refused Co"})["items"] == []
    [[_, _, scope, *_]] = token_list(cli)
    assert scope == "read-only"


def test_a_token_limited_to_directories_is_refused_the_others(cli: Cli, server: Server) -> None:
    said, token = create_token(cli, "--directory", "contacts", "--directory", "PRODUCTS")
    assert re.fullmatch(r"token \d+ for manager: read-write, 2 dir\., expires never", said)
    with rest(server, token) as api:
        assert api.ok("GET", "/contacts")["items"]
        assert api.ok("POST", "/contacts", 201, json={"contact_name": "Scoped Person"})
        assert api.ok("GET", "/directories/PRODUCTS/entries")["items"]
        problem(api.get("/companies"), 403, "permission_denied")
        problem(api.post("/companies", json={"org_name": "Out Of Scope"}), 403, "permission_denied")
    [[_, _, scope, *_]] = token_list(cli)
    assert scope == "read-write in CONTACTS,PRODUCTS"


def test_a_token_expiring_in_days_shows_its_expiry_and_works_until_it_expires(
    cli: Cli, server: Server, db: Database
) -> None:
    before = datetime.now(UTC)
    said, token = create_token(cli, "--expires", "30")
    after = datetime.now(UTC)
    days = {(moment + timedelta(days=30)).date().isoformat() for moment in (before, after)}
    assert re.fullmatch(r"token \d+ for manager: read-write, all directories, expires (.+)", said)
    assert said.rsplit(" ", 1)[1] in days
    [[token_id, _, _, expiry, _, state]] = token_list(cli)
    assert before + timedelta(days=30) <= datetime.fromisoformat(expiry)
    assert datetime.fromisoformat(expiry) <= after + timedelta(days=30)
    assert state == "active"
    with rest(server, token) as api:
        assert api.ok("GET", "/me")["login"] == "manager"
    expire_token(db, int(token_id))  # the API refuses it then: see test_api_rights
    [[_, _, _, _, _, state]] = token_list(cli)
    assert state == "expired"


def test_a_revoked_token_gets_401_at_once(cli: Cli, server: Server) -> None:
    _, token = create_token(cli)
    _, other = create_token(cli)
    [[token_id, *_], [other_id, *_]] = token_list(cli)
    with rest(server, token) as api, rest(server, other) as still:
        assert api.ok("GET", "/me")["login"] == "manager"
        assert cli("token", "revoke", token_id) == [f"token {token_id} revoked"]
        problem(api.get("/me"), 401, "invalid_token")
        assert still.ok("GET", "/me")["login"] == "manager"
    assert [(row[0], row[5]) for row in token_list(cli)] == [
        (token_id, "revoked"),
        (other_id, "active"),
    ]
    assert cli.fails("token", "revoke", token_id) == f"error: No active token with id {token_id}"


def test_a_tokens_last_use_is_recorded_when_it_is_used(cli: Cli, server: Server) -> None:
    _, token = create_token(cli, "--read-only")
    [[_, name, _, expiry, last_use, _]] = token_list(cli)
    assert (name, expiry, last_use) == ("token of manager", "no expiry", "never used")
    with rest(server, token) as api:
        before = datetime.now(UTC)
        api.ok("GET", "/companies/1")
        after = datetime.now(UTC)
    [[_, _, _, _, last_use, _]] = token_list(cli)
    assert before <= datetime.fromisoformat(last_use) <= after


# Errors


def test_each_error_is_one_line_and_changes_nothing(cli: Cli, db: Database) -> None:
    expected = {
        ("user", "add", "ADMIN"): "error: User 'ADMIN' already exists",
        ("user", "disable", "nobody"): "error: User not found: nobody",
        ("grant", "fly", "--user", "manager"): "error: Unknown right: fly",
        ("grant", "nowhere.view", "--user", "manager"): "error: Directory not found: nowhere",
        ("grant", "main-menu", "--group", "Nobody"): "error: Group not found: Nobody",
        ("revoke", "main-menu"): "error: Name either a user or a group",
        ("field", "add", "CLIENTS", "notes"): "error: Field 'notes' already exists in Companies",
        ("apikey", "set", "short"): (
            "error: An API key is at least 8 printable ASCII characters, no spaces"
        ),
    }
    before = dump(db)
    commands = list(expected)
    results = zip(commands, cli.run_all(commands), strict=True)
    assert {args: told(result) for args, result in results} == expected
    assert dump(db) == before
