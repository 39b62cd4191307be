"""`accord jira ...`: connect Accord to a Jira, see the connection, sync its users."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from accord.domain.errors import AccordError
from accord.domain.users import Actor
from accord.jobs.worker import JobWorker
from accord.services import jira_connection, migrations, sync
from accord.services.outbox import Backlog
from accord.services.secrets import SecretBox, secret_box
from accord.services.transactions import Database, DatabaseError, open_database, run
from accord.settings import Settings

if TYPE_CHECKING:  # the Jira client (httpx) is imported by the commands that talk to Jira
    from accord.jira.connect import LiveStatus

CLI = Actor.system("cli")
jira_app = typer.Typer(help="The Jira connection and the user sync.", no_args_is_help=True)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _open() -> tuple[Database, SecretBox]:
    settings = Settings.from_env()
    database = open_database(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_wal_limit_bytes=settings.sqlite_wal_limit_bytes,
    )
    box = secret_box(
        key=settings.secret_key,
        key_file=settings.secret_key_file,
        database_url=settings.database_url,
    )
    return database, box


@jira_app.command("connect")
def jira_connect(
    url: Annotated[str, typer.Argument(help="Jira's base URL, e.g. https://jira.example.com")],
    token: Annotated[str | None, typer.Option(help="Data Center personal access token.")] = None,
    user: Annotated[str | None, typer.Option(help="Data Center user (with --password).")] = None,
    password: Annotated[str | None, typer.Option(help="Data Center password.")] = None,
    email: Annotated[str | None, typer.Option(help="Cloud: the account's e-mail.")] = None,
    api_token: Annotated[str | None, typer.Option(help="Cloud: an API token.")] = None,
    cloud: Annotated[
        bool, typer.Option("--cloud", help="A Cloud site not at *.atlassian.net.")
    ] = False,
    group: Annotated[
        list[str] | None, typer.Option(help="Sync only this group's members (repeat for more).")
    ] = None,
) -> None:
    """Check the credential on Jira (serverInfo, myself), then save it; nothing is saved
    when Jira cannot be reached or refuses it."""
    database, box = _open()
    try:
        with _errors(database):
            credential = jira_connection.credential_from(
                url,
                token=token,
                user=user,
                password=password,
                email=email,
                api_token=api_token,
                cloud=cloud,
                groups=tuple(group or ()),
            )
            from accord.jira.connect import connect

            server = connect(database, box, credential, actor=CLI)
            typer.echo(
                f"connected to {server.title or url} ({server.deployment_type} "
                f"{server.version}) as {server.account}"
            )
    finally:
        database.dispose()


@jira_app.command("status")
def jira_status() -> None:
    """The connection, whether Jira answers it now, and the last user sync."""
    database, box = _open()
    try:
        with _errors(database):
            from accord.jira.connect import live_status

            status = live_status(database, box, actor=CLI)
            for line in _status_lines(status):
                typer.echo(line)
    finally:
        database.dispose()


def _status_lines(live: "LiveStatus") -> list[str]:
    stored = live.stored
    lines: list[str] = []
    if not stored.connected:
        lines.append("Jira: not connected")
    else:
        who = stored.username or "a personal access token"
        lines.append(f"Jira: {stored.url} ({stored.deployment}, {stored.auth}: {who})")
        if live.server is not None:
            server = live.server
            lines.append(
                f"reachable: yes; {server.title} {server.deployment_type} {server.version}, "
                f"acting as {server.account}"
            )
        else:
            lines.append(f"reachable: no; {live.error}")
        scope = ", ".join(stored.groups) if stored.groups else "every user"
        lines.append(f"synced: {scope}")
    last = stored.last_sync
    if last is None:
        lines.append("last sync: never")
    else:
        moment = last.finished_at or last.started_at or last.requested_at
        lines.append(f"last sync: {last.status} at {moment.isoformat(timespec='seconds')}")
        if last.detail:
            lines.append(f"  {last.detail}")
    if stored.last_error and (last is None or last.detail != stored.last_error):
        lines.append(f"last error: {stored.last_error}")
    return lines + _outbox_lines(stored.outbox)


def _outbox_lines(backlog: Backlog) -> list[str]:
    """The writes waiting for Jira, and the newest that failed."""
    if not backlog.pending or backlog.oldest_pending_at is None:
        lines = ["writes to Jira waiting: none"]
    else:
        age = int((datetime.now(UTC) - backlog.oldest_pending_at).total_seconds())
        lines = [f"writes to Jira waiting: {backlog.pending}, the oldest for {_age(age)}"]
    if backlog.last_error_at is not None:
        moment = backlog.last_error_at.isoformat(timespec="seconds")
        lines.append(f"last failed write to Jira: {moment}: {backlog.last_error}")
    return lines


def _age(seconds: int) -> str:
    seconds = max(0, seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


@jira_app.command("disconnect")
def jira_disconnect() -> None:
    """Forget the connection and its secret (users and contacts synced stay)."""
    database, _box = _open()
    try:
        with _errors(database):
            run(database, lambda tx: jira_connection.disconnect(tx, actor=CLI), write=True)
            typer.echo("disconnected")
    finally:
        database.dispose()


@jira_app.command("sync")
def jira_sync(
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for a sync another process runs.")
    ] = 3600.0,
) -> None:
    """Sync Jira's users now, with a progress bar; joins a sync already running elsewhere."""
    database, box = _open()
    try:
        with _errors(database):
            job_id = run(database, lambda tx: sync.request_user_sync(tx, actor=CLI), write=True)
            from accord.jira.source import stored_gateway

            worker = JobWorker(database, jira_source=stored_gateway(database, box))
            worker.run_once(_show_fetched, _show_synced)
            typer.echo("", err=True)
            _wait_for(database, job_id, wait)
    finally:
        database.dispose()


BAR_WIDTH = 30


def _show_fetched(count: int) -> None:
    typer.echo(f"\rfetching users from Jira: {count}", nl=False, err=True)


def _show_synced(done: int, total: int) -> None:
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    typer.echo(f"\rsyncing users [{bar}] {done}/{total}          ", nl=False, err=True)


def _wait_for(database: Database, job_id: int, seconds: float) -> None:
    """Wait for the job to end (another process may run it); say how it ended."""
    deadline = time.monotonic() + seconds
    while True:
        job = run(database, lambda tx: sync.job_by_id(tx, job_id), write=False)
        if job is None or job.status == "done":
            typer.echo(job.detail if job else "done")
            return
        if job.status == "failed":
            _fail(job.detail)
        if time.monotonic() > deadline:
            _fail(f"the sync (job {job_id}) is still {job.status}")
        time.sleep(0.5)


@contextmanager
def _errors(database: Database) -> Iterator[None]:
    """The schema checked first; what goes wrong, one line on stderr and status 1."""
    try:
        migrations.require_current_schema(database)
        yield
    except AccordError as error:
        _fail(error.message)
    except DatabaseError as error:
        _fail(f"database error: {error} (is the database reachable and upgraded?)")
