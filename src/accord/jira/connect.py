"""Connecting Jira: the credential is tried on `serverInfo` and `myself` before anything
is saved, and the stored connection is checked the same way for its status."""

from dataclasses import dataclass

from accord.domain.errors import AccordError
from accord.domain.users import Actor
from accord.jira.client import RetryPolicy, Timeouts, checked_url
from accord.jira.gateway import open_gateway
from accord.services import jira_connection
from accord.services.jira import Credential, JiraServer
from accord.services.jira_connection import JiraStatus
from accord.services.secrets import SecretBox
from accord.services.transactions import Database, run

PROBE_TIMEOUTS = Timeouts(connect=5.0, read=15.0)
PROBE_RETRY = RetryPolicy(attempts=2, max_wait=5.0)
"""A person waits for a connect or a status: fail within seconds, not a minute."""


def probe(credential: Credential) -> JiraServer:
    """What Jira says of itself and of the credential's account; a one-line error if the
    address is not a Jira, cannot be reached, or refuses the credential."""
    credential = Credential(
        checked_url(credential.url),
        credential.deployment,
        credential.auth,
        credential.username,
        credential.secret,
        credential.groups,
    )
    with open_gateway(credential, timeouts=PROBE_TIMEOUTS, retry=PROBE_RETRY) as gateway:
        return gateway.server()


def connect(
    database: Database, box: SecretBox, credential: Credential, *, actor: Actor
) -> JiraServer:
    """Check the credential on Jira, then save it (replacing any); nothing saved on failure."""
    checked = jira_connection.check_credential(credential, actor=actor)
    checked = Credential(
        checked_url(checked.url),
        checked.deployment,
        checked.auth,
        checked.username,
        checked.secret,
        checked.groups,
    )
    server = probe(checked)
    run(
        database,
        lambda tx: jira_connection.save_connection(tx, checked, server, box, actor=actor),
        write=True,
    )
    return server


@dataclass(frozen=True, slots=True)
class LiveStatus:
    stored: JiraStatus
    reachable: bool | None
    """None: not connected, so not tried."""
    server: JiraServer | None
    """What Jira says now, if it answered."""
    error: str = ""
    """Why it could not be asked, if it could not."""


def live_status(database: Database, box: SecretBox, *, actor: Actor) -> LiveStatus:
    """The stored connection and its last sync, and whether Jira answers it now."""
    stored = run(
        database, lambda tx: jira_connection.connection_status(tx, actor=actor), write=False
    )
    if not stored.connected:
        return LiveStatus(stored, None, None)
    try:
        credential = run(
            database, lambda tx: jira_connection.stored_credential(tx, box), write=False
        )
        assert credential is not None
        return LiveStatus(stored, True, probe(credential))
    except AccordError as error:
        return LiveStatus(stored, False, None, error.message)
