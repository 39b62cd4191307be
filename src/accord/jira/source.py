"""The gateway to the Jira connected now: read from the database each time it is asked
for, so that a running server follows a connection made, changed or dropped meanwhile."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from accord.jira.client import DEFAULT_RETRY, DEFAULT_TIMEOUTS, RetryPolicy, Timeouts
from accord.jira.gateway import open_gateway
from accord.services import jira_connection
from accord.services.jira import JiraGateway
from accord.services.secrets import SecretBox
from accord.services.transactions import Database, run

JiraSource = Callable[[], AbstractContextManager[JiraGateway | None]]
DELIVERY_TIMEOUTS = Timeouts(connect=5.0, read=15.0)
DELIVERY_RETRY = RetryPolicy(attempts=3, max_wait=10.0)
"""The outbox's writes: a few tries within seconds, then the outbox's own backoff (so a
worker is not held a minute by one issue while others wait)."""


def stored_gateway(
    database: Database,
    box: SecretBox,
    *,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> JiraSource:
    @contextmanager
    def source() -> Iterator[JiraGateway | None]:
        credential = run(
            database, lambda tx: jira_connection.stored_credential(tx, box), write=False
        )
        if credential is None:
            yield None
            return
        with open_gateway(credential, timeouts=timeouts, retry=retry) as gateway:
            yield gateway

    return source
