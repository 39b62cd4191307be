"""The administrator's command line: `accord serve`, `accord db upgrade`, users, rights, ...

Every command reads the database from ACCORD_DATABASE_URL (default: accord.db here).
An error prints one line to stderr and exits with status 1.
"""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from accord import cli_export, cli_import, cli_jira
from accord.domain.errors import AccordError
from accord.domain.schema import FieldType
from accord.domain.users import Actor
from accord.services import (
    auth,
    backup,
    demo,
    dictionaries,
    directories,
    migrations,
    sessions,
    tokens,
    users,
)
from accord.services.transactions import (
    Database,
    DatabaseError,
    Transaction,
    now,
    open_database,
    run,
)
from accord.settings import Settings

T = TypeVar("T")
app = typer.Typer(help="Accord, the CRM server.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="The database: schema, backups, checks.", no_args_is_help=True)
apikey_app = typer.Typer(help="The API key of the legacy API.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
group_app = typer.Typer(help="Groups of users.", no_args_is_help=True)
field_app = typer.Typer(help="Fields of directories.", no_args_is_help=True)
dictionary_app = typer.Typer(help="Dictionaries.", no_args_is_help=True)
directory_app = typer.Typer(help="Directories.", no_args_is_help=True)
for sub, name in [
    (db_app, "db"),
    (apikey_app, "apikey"),
    (user_app, "user"),
    (group_app, "group"),
    (field_app, "field"),
    (dictionary_app, "dictionary"),
    (directory_app, "directory"),
]:
    app.add_typer(sub, name=name)
app.add_typer(cli_jira.jira_app, name="jira")
app.command("export")(cli_export.export)
app.command("import")(cli_import.import_)

CLI = Actor.system("cli")
MAX_WORKERS = 64
"""The most worker processes `accord serve --workers` starts."""


def main() -> None:
    app()


@contextmanager
def _errors() -> Iterator[None]:
    """Turn what can go wrong into one clear line and a non-zero exit."""
    try:
        yield
    except AccordError as error:
        _fail(error.message)
    except DatabaseError as error:
        _fail(f"database error: {error} (is the database reachable and upgraded?)")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _database(*, serving: bool = False) -> Database:
    """The configured database. Serving, its statements are timed as requests' are; the
    CLI's own jobs (an upgrade, the demo) take as long as they take."""
    settings = Settings.from_env()
    return open_database(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        statement_timeout=settings.statement_timeout if serving else 0,
        sqlite_wal_limit_bytes=settings.sqlite_wal_limit_bytes,
    )


def _do(work: Callable[[Transaction], T], *, write: bool = True) -> T:
    database = _database()
    try:
        with _errors():
            migrations.require_current_schema(database)
            return run(database, work, write=write)
    finally:
        database.dispose()
    raise AssertionError("unreachable")  # pragma: no cover


# Server and database


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_WORKERS,
            help="Worker processes (default: one per core on PostgreSQL, one on SQLite).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the HTTP server (legacy API, REST API, web UI)."""
    settings = Settings.from_env().with_listening_address(host, port)
    database = _database(serving=True)
    with _errors():
        migrations.require_current_schema(database)
    # Imported here: the web stack takes over a second to import, which every other
    # command would pay for nothing.
    from accord import logs, server, supervisor

    count = workers or supervisor.default_workers(settings.database_url)
    logs.configure(settings.log_format)
    shown = "" if count == 1 else f" with {count} workers"
    typer.echo(f"Accord serving {_safe_url(settings.database_url)} on http://{host}:{port}{shown}")
    if count == 1:
        server.serve(settings, database, host=host, port=port)
        return
    database.dispose()  # each worker opens its own, after the fork
    try:
        listening = supervisor.listen(host, port, count)
    except OSError as error:
        _fail(f"cannot listen on {host}:{port}: {error.strerror}")
    workers_of = supervisor.Supervisor(settings, lambda: _database(serving=True), listening)
    raise typer.Exit(workers_of.run())


def _safe_url(url: str) -> str:
    """The URL without its password, if it has one."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    database = _database()
    with _errors():
        revision = migrations.upgrade_schema(database)
    typer.echo(f"database at revision {revision}")


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
) -> None:
    """Copy the database into FILE while it serves: SQLite's online backup (checked), or
    pg_dump's custom format on PostgreSQL (its client tools must be installed)."""
    url = Settings.from_env().database_url
    with _errors():
        how = backup.backup_database(url, file, force=force)
        typer.echo(f"database backed up to {file} ({how})")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="A file written by `accord db backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that already holds data.")
    ] = False,
) -> None:
    """Replace the database by the backup in FILE. Stop the server first: a restore is
    refused while the database is being written to (or, on PostgreSQL, while any other
    session is connected), and a database that holds data is replaced only with --force."""
    url = Settings.from_env().database_url
    with _errors():
        backup.restore_database(url, file, force=force)
        typer.echo(f"database restored from {file}")


@db_app.command("check")
def db_check() -> None:
    """Check the database: SQLite's integrity check, and that the value and text indexes
    hold exactly the rows the entries' values call for. Exits with status 1 if anything
    is wrong."""
    database = _database()
    try:
        with _errors():
            migrations.require_current_schema(database)
            report = backup.check_database(database)
    finally:
        database.dispose()
    typer.echo("integrity: " + ("ok" if not report.integrity else "; ".join(report.integrity[:5])))
    typer.echo(f"value index: {report.entries} entries, {report.rows} rows")
    typer.echo(f"text index: {report.texts} rows")
    for what, index, found in (
        ("missing", "value", report.missing),
        ("extra", "value", report.extra),
        ("missing", "text", report.missing_texts),
        ("extra", "text", report.extra_texts),
    ):
        if found.rows:
            named = ", ".join(found.entries)
            typer.echo(f"{what} {index} index rows: {found.rows} (entries {named})")
    if not report.sound:
        _fail("the database check found problems")


@app.command("demo")
def demo_command(
    if_needed: Annotated[
        bool, typer.Option("--if-needed", help="Do nothing (but say so) if already loaded.")
    ] = False,
) -> None:
    """Load the demo data set (once) and print the API key, the admin's login and password."""
    changed = "(changed since the demo was loaded)"
    if if_needed and _do(demo.demo_loaded, write=False):
        key_works = _do(lambda tx: auth.api_key_is(tx, demo.DEMO_API_KEY), write=False)
        password_works = _do(
            lambda tx: sessions.password_matches(tx, demo.ADMIN, demo.ADMIN_PASSWORD),
            write=False,
        )
        typer.echo(
            "Demo data already loaded."
            f"\nAPI key: {demo.DEMO_API_KEY if key_works else changed}"
            f"\nAdmin login: {demo.ADMIN}"
            f"\nAdmin password: {demo.ADMIN_PASSWORD if password_works else changed}"
        )
        return
    loaded = _do(demo.load_demo)
    typer.echo(
        f"Demo data loaded.\nAPI key: {loaded.api_key}\nAdmin login: {loaded.admin}"
        f"\nAdmin password: {loaded.admin_password}"
    )


# API key


@apikey_app.command("generate")
def apikey_generate() -> None:
    """Make a new random API key (shown once; the old key stops working)."""
    typer.echo(_do(auth.generate_api_key))


@apikey_app.command("set")
def apikey_set(key: str) -> None:
    """Make KEY the API key (the old key stops working)."""
    _do(lambda tx: auth.set_api_key(tx, key))
    typer.echo("API key set")


# Users and groups


@user_app.command("add")
def user_add(
    login: str,
    admin: Annotated[
        bool, typer.Option("--admin", help="An administrator holds every right.")
    ] = False,
    email: Annotated[str, typer.Option(help="E-mail address.")] = "",
) -> None:
    """Add a user."""
    user = _do(lambda tx: users.add_user(tx, login, email=email, is_admin=admin, actor=CLI))
    typer.echo(f"user {user.login} added" + (" (administrator)" if user.is_admin else ""))


@user_app.command("password")
def user_password(
    login: str,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
) -> None:
    """Set a user's web UI password (prompted twice; the user's sessions end)."""
    if password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = _do(lambda tx: sessions.set_password(tx, login, password, actor=CLI))
    typer.echo(f"password of {user.login} set")


@user_app.command("list")
def user_list() -> None:
    """List users: login, e-mail, role, state."""
    for user in _do(lambda tx: users.list_users(tx, actor=CLI), write=False):
        role = "admin" if user.is_admin else "user"
        state = "active" if user.is_active else "disabled"
        typer.echo(f"{user.login}\t{user.email}\t{role}\t{state}")


@user_app.command("disable")
def user_disable(login: str) -> None:
    """Disable a user: the user can no longer call the API."""
    _do(lambda tx: users.set_user_active(tx, login, False, actor=CLI))
    typer.echo(f"user {login} disabled")


@user_app.command("enable")
def user_enable(login: str) -> None:
    """Enable a disabled user again."""
    _do(lambda tx: users.set_user_active(tx, login, True, actor=CLI))
    typer.echo(f"user {login} enabled")


@group_app.command("add")
def group_add(name: str) -> None:
    """Add a group."""
    group = _do(lambda tx: users.add_group(tx, name, actor=CLI))
    typer.echo(f"group {group.name} added")


@group_app.command("list")
def group_list() -> None:
    """List groups."""
    for group in _do(lambda tx: users.list_groups(tx, actor=CLI), write=False):
        typer.echo(group.name)


@group_app.command("members")
def group_members(
    name: str,
    add: Annotated[list[str] | None, typer.Argument(help="Logins to add to the group.")] = None,
) -> None:
    """List a group's members, or add the logins given after its name."""
    if add:
        _do(lambda tx: users.add_members(tx, name, add, actor=CLI))
    for login in _do(lambda tx: users.group_members(tx, name, actor=CLI), write=False):
        typer.echo(login)


_RIGHT_HELP = (
    "main-menu, dictionaries.add, dictionaries.remove, or DIRECTORY.view|add|edit|remove|all "
    "(for example companies.edit)"
)


@app.command()
def grant(
    right: Annotated[str, typer.Argument(help=_RIGHT_HELP)],
    user: Annotated[str | None, typer.Option(help="Login of the user.")] = None,
    group: Annotated[str | None, typer.Option(help="Name of the group.")] = None,
) -> None:
    """Grant a right to a user or a group."""
    added = _do(lambda tx: users.grant(tx, right, user=user, group=group, actor=CLI))
    typer.echo(f"{right} granted to {user or group}" + ("" if added else " (already held)"))


@app.command()
def revoke(
    right: Annotated[str, typer.Argument(help=_RIGHT_HELP)],
    user: Annotated[str | None, typer.Option(help="Login of the user.")] = None,
    group: Annotated[str | None, typer.Option(help="Name of the group.")] = None,
) -> None:
    """Take a right back from a user or a group."""
    removed = _do(lambda tx: users.revoke(tx, right, user=user, group=group, actor=CLI))
    typer.echo(f"{right} revoked from {user or group}" + ("" if removed else " (was not held)"))


# Directories, fields, dictionaries


@directory_app.command("add")
def directory_add(code: str, name: str) -> None:
    """Add a custom directory (with a required text field "Name")."""
    directory = _do(lambda tx: directories.add_directory(tx, code, name, actor=CLI))
    typer.echo(f"directory {directory.code} ({directory.name}) added")


@directory_app.command("list")
def directory_list() -> None:
    """List directories: code and name."""
    for directory in _do(lambda tx: tx.schema.directories, write=False):
        typer.echo(f"{directory.code}\t{directory.name}")


@field_app.command("add")
def field_add(
    directory: str,
    name: str,
    type_: Annotated[FieldType, typer.Option("--type", help="The field's type.")] = FieldType.TEXT,
    dictionary: Annotated[str | None, typer.Option(help="For dictionary fields.")] = None,
    link_to: Annotated[str | None, typer.Option(help="For link fields: the directory.")] = None,
    multiple: Annotated[bool, typer.Option("--multiple", help="Several values.")] = False,
    required: Annotated[bool, typer.Option("--required")] = False,
    unique: Annotated[bool, typer.Option("--unique")] = False,
) -> None:
    """Add a custom field to a directory; prints its generated code."""
    field = _do(
        lambda tx: directories.add_field(
            tx,
            directory,
            name,
            type_,
            dictionary=dictionary,
            link_to=link_to,
            multiple=multiple,
            required=required,
            unique=unique,
            actor=CLI,
        )
    )
    typer.echo(field.code)


@field_app.command("list")
def field_list(directory: str) -> None:
    """List a directory's fields: code, name, type."""

    def fields(tx: Transaction) -> list[str]:
        schema = tx.schema
        found = schema.find_directory(directory)
        return [
            _describe(f.code, f.name, f.type, f.multiple, f.required, f.unique)
            for f in schema.fields_of(found)
        ]

    for line in _do(fields, write=False):
        typer.echo(line)


def _describe(code: str, name: str, kind: FieldType, *flags: bool) -> str:
    marks = [m for m, on in zip(("multiple", "required", "unique"), flags, strict=True) if on]
    return "\t".join([code, name, kind.value, *marks])


@dictionary_app.command("add")
def dictionary_add(
    name: str,
    values: Annotated[list[str] | None, typer.Argument(help="Its values, in order.")] = None,
) -> None:
    """Add a dictionary, with values."""
    created = _do(lambda tx: dictionaries.create_dictionary(tx, name, values or [], actor=CLI))
    typer.echo(f"dictionary {created.name} added with {len(created.values)} values")


@dictionary_app.command("list")
def dictionary_list(
    name: Annotated[str | None, typer.Argument(help="A dictionary: list its values.")] = None,
) -> None:
    """List dictionaries, or the values of one."""

    def lines(tx: Transaction) -> list[str]:
        if name is None:
            return [d.name for d in tx.schema.dictionaries]
        return [f"{v.id}\t{v.label}" for v in tx.schema.find_dictionary(name).values]

    for line in _do(lines, write=False):
        typer.echo(line)


# REST API tokens

token_app = typer.Typer(help="Personal API tokens of the REST API.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    login: str,
    read_only: Annotated[bool, typer.Option("--read-only", help="Only reads.")] = False,
    directory: Annotated[
        list[str] | None, typer.Option(help="Only this directory (repeat for more).")
    ] = None,
    expires: Annotated[int | None, typer.Option(help="Expires after this many days.")] = None,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "",
) -> None:
    """Make a token for a user; the token alone is printed on the last line, once."""
    text, row = _do(
        lambda tx: tokens.create_token(
            tx,
            login,
            name=name,
            read_only=read_only,
            directories=directory,
            expires_days=expires,
            actor=CLI,
        )
    )
    scope = "read-only" if row.read_only else "read-write"
    where = "all directories" if row.directory_ids is None else f"{len(row.directory_ids)} dir."
    until = row.expires_at.date().isoformat() if row.expires_at else "never"
    typer.echo(f"token {row.id} for {login}: {scope}, {where}, expires {until}")
    typer.echo(text)


@token_app.command("list")
def token_list(login: str) -> None:
    """List a user's tokens: id, name, scope, expiry, last use, state (active, revoked or
    expired)."""

    def lines(tx: Transaction) -> list[str]:
        moment = now()
        return [
            f"{row.id}\t{row.name}\t{_scope(row.read_only, row.directory_ids, tx)}\t"
            f"{_moment(row.expires_at, 'no expiry')}\t{_moment(row.last_used_at, 'never used')}\t"
            f"{tokens.token_state(row, moment)}"
            for row in tokens.list_tokens(tx, login, actor=CLI)
        ]

    for line in _do(lines, write=False):
        typer.echo(line)


def _scope(read_only: bool, directory_ids: tuple[int, ...] | None, tx: Transaction) -> str:
    """Read-only or read-write, and the only directories a token reaches, if limited."""
    scope = "read-only" if read_only else "read-write"
    if directory_ids is None:
        return scope
    return f"{scope} in {','.join(tx.schema.directory(i).code for i in directory_ids)}"


def _moment(moment: datetime | None, absent: str) -> str:
    return absent if moment is None else moment.isoformat()


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token: it stops working at once."""
    _do(lambda tx: tokens.revoke_token(tx, token_id, actor=CLI))
    typer.echo(f"token {token_id} revoked")
