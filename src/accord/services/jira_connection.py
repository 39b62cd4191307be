"""The Jira connection: made, read and dropped by administrators (and the CLI).

Connecting is two steps the edge runs in turn: `check_credential` (rights and input,
before a byte goes to Jira), then, once Jira answered `serverInfo` and `myself` with
the credential, `save_connection`. A wrong address or credential fails the first or the
Jira check, and nothing is saved.
"""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from accord.domain.errors import AccordError, InvalidParameter, JiraNotConnected
from accord.domain.names import MAX_NAME_LENGTH
from accord.domain.text import has_invalid_characters
from accord.domain.users import Actor
from accord.services.jira import (
    API_TOKEN,
    AUTHS,
    CLOUD,
    DATA_CENTER,
    DEPLOYMENTS,
    PASSWORD,
    TOKEN,
    Credential,
    JiraServer,
)
from accord.services.outbox import NO_BACKLOG, Backlog, backlog
from accord.services.secrets import SecretBox
from accord.services.sync import USER_SYNC, request_user_sync
from accord.services.transactions import now
from accord.store import jira as store
from accord.store import jobs as job_store
from accord.store.database import Transaction

MAX_SECRET_LENGTH = 4096
MAX_GROUPS = 100


@dataclass(frozen=True, slots=True)
class LastSync:
    status: str
    detail: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class JiraStatus:
    """What an administrator is shown of the connection: never its secret."""

    connected: bool
    url: str = ""
    deployment: str = ""
    auth: str = ""
    username: str = ""
    groups: tuple[str, ...] = ()
    server: JiraServer | None = None
    """As Jira described itself when connected."""
    connected_at: datetime | None = None
    last_sync: LastSync | None = None
    """The newest sync requested (queued, running or ended)."""
    last_error: str = ""
    """Why the newest sync that ended failed, if it did."""
    outbox: Backlog = NO_BACKLOG
    """The writes to Jira waiting in the outbox, and the newest that failed."""


def credential_from(
    url: str,
    *,
    token: str | None = None,
    user: str | None = None,
    password: str | None = None,
    email: str | None = None,
    api_token: str | None = None,
    cloud: bool = False,
    groups: tuple[str, ...] = (),
) -> Credential:
    """The credential one way of signing in names: a Data Center token, a Data Center
    user and password, or (Cloud: `*.atlassian.net`, or `cloud`) an e-mail and API token."""
    host = (urlsplit(url.strip()).hostname or "").lower()
    cloud = cloud or host.endswith(".atlassian.net")
    given = [name for name, value in _WAYS(token, user, password, email, api_token) if value]
    if cloud:
        if given != ["email", "api_token"]:
            raise InvalidCredential(
                "Jira Cloud takes an e-mail and an API token (and nothing else)"
            )
        return Credential(url, CLOUD, API_TOKEN, email or "", api_token or "", groups)
    if given == ["token"]:
        return Credential(url, DATA_CENTER, TOKEN, "", token or "", groups)
    if given == ["user", "password"]:
        return Credential(url, DATA_CENTER, PASSWORD, user or "", password or "", groups)
    if given == ["email", "api_token"]:
        return Credential(url, CLOUD, API_TOKEN, email or "", api_token or "", groups)
    raise InvalidCredential(
        "Give a token, or a user and a password (Data Center), or an e-mail and an API "
        "token (Cloud)"
    )


def _WAYS(  # noqa: N802 - a table, in the order the ways are told apart
    token: str | None, user: str | None, password: str | None, email: str | None, api: str | None
) -> list[tuple[str, str | None]]:
    return [
        ("token", token),
        ("user", user),
        ("password", password),
        ("email", email),
        ("api_token", api),
    ]


class InvalidCredential(AccordError):
    code = "invalid_credential"


def request_sync(tx: Transaction, *, actor: Actor) -> int:
    """Queue a user sync (or join the one queued or running) for an administrator."""
    actor.rights.require_admin()
    return request_user_sync(tx, actor=actor)


SCHEDULE = Actor.system("schedule")


def request_scheduled_sync(tx: Transaction) -> int | None:
    """Queue a user sync (or join the one queued or running) if Jira is connected; its
    job id, or None when there is no connection to sync with."""
    if store.read(tx.connection) is None:
        return None
    return request_user_sync(tx, actor=SCHEDULE)


def check_credential(credential: Credential, *, actor: Actor) -> Credential:
    """The credential, trimmed, if an administrator gives it and it is well formed; else an
    error naming what is wrong. Its address is checked by the connector."""
    actor.rights.require_admin()
    if credential.deployment not in DEPLOYMENTS:
        raise InvalidParameter("deployment", credential.deployment)
    if credential.auth not in AUTHS[credential.deployment]:
        raise InvalidParameter("auth", credential.auth)
    username = credential.username.strip()
    if credential.auth != TOKEN and not username:
        raise InvalidParameter("user" if credential.deployment != "cloud" else "email", "")
    if len(username) > MAX_NAME_LENGTH or has_invalid_characters(username):
        raise InvalidParameter("user", username[:100])
    secret = credential.secret.strip()
    if not secret or len(secret) > MAX_SECRET_LENGTH or has_invalid_characters(secret):
        raise InvalidParameter("secret", "(not shown)")
    groups = tuple(dict.fromkeys(g.strip() for g in credential.groups if g.strip()))
    if len(groups) > MAX_GROUPS:
        raise InvalidParameter("groups", f"{len(groups)} groups (at most {MAX_GROUPS})")
    for group in groups:
        if len(group) > MAX_NAME_LENGTH or has_invalid_characters(group):
            raise InvalidParameter("group", group[:100])
    return Credential(
        credential.url, credential.deployment, credential.auth, username, secret, groups
    )


def save_connection(
    tx: Transaction, credential: Credential, server: JiraServer, box: SecretBox, *, actor: Actor
) -> None:
    """Make this the Jira connection (replacing any), its secret encrypted by `box`."""
    actor.rights.require_admin()
    stored = store.StoredConnection(
        url=credential.url,
        deployment=credential.deployment,
        auth=credential.auth,
        username=credential.username,
        secret=box.encrypt(credential.secret),
        groups=credential.groups,
        server_title=server.title[:255],
        server_version=server.version[:64],
        deployment_type=server.deployment_type[:64],
        account=server.account[:500],
        connected_at=now(),
    )
    store.save(tx.connection, stored, by=actor.user_id)


def disconnect(tx: Transaction, *, actor: Actor) -> None:
    """Forget the connection and its secret; JiraNotConnected if there was none."""
    actor.rights.require_admin()
    if not store.delete(tx.connection):
        raise JiraNotConnected


def stored_credential(tx: Transaction, box: SecretBox) -> Credential | None:
    """The connection's credential, its secret decrypted (for the connector), or None."""
    stored = store.read(tx.connection)
    if stored is None:
        return None
    return Credential(
        stored.url,
        stored.deployment,
        stored.auth,
        stored.username,
        box.decrypt(stored.secret),
        stored.groups,
    )


def connection_status(tx: Transaction, *, actor: Actor) -> JiraStatus:
    """The connection as stored, the newest user sync and the outbox's backlog: for
    administrators."""
    actor.rights.require_admin()
    last = job_store.last_job(tx.connection, USER_SYNC)
    ended = job_store.last_job(tx.connection, USER_SYNC, finished=True)
    last_sync = None
    if last is not None:
        last_sync = LastSync(
            last.job.status, last.job.detail, last.created_at, last.started_at, last.finished_at
        )
    last_error = ended.job.detail if ended is not None and ended.job.status == "failed" else ""
    stored = store.read(tx.connection)
    waiting = backlog(tx)
    if stored is None:
        return JiraStatus(False, last_sync=last_sync, last_error=last_error, outbox=waiting)
    server = JiraServer(
        stored.server_title, stored.server_version, stored.deployment_type, stored.account
    )
    return JiraStatus(
        True,
        url=stored.url,
        deployment=stored.deployment,
        auth=stored.auth,
        username=stored.username,
        groups=stored.groups,
        server=server,
        connected_at=stored.connected_at,
        last_sync=last_sync,
        last_error=last_error,
        outbox=waiting,
    )
