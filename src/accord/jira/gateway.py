"""A gateway to a Jira instance, made from a credential (`services.jira.Credential`)."""

import base64
from collections.abc import Iterator
from contextlib import contextmanager

from accord.jira.adapters import Cloud, DataCenter
from accord.jira.client import DEFAULT_RETRY, DEFAULT_TIMEOUTS, JiraClient, RetryPolicy, Timeouts
from accord.services.jira import CLOUD, TOKEN, Credential


def headers_for(credential: Credential) -> dict[str, str]:
    if credential.auth == TOKEN:
        return {"Authorization": f"Bearer {credential.secret}"}
    pair = f"{credential.username}:{credential.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


@contextmanager
def open_gateway(
    credential: Credential,
    *,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> Iterator[DataCenter | Cloud]:
    """The adapter for the credential's deployment, its connections closed afterwards."""
    client = JiraClient(
        credential.url, headers=headers_for(credential), timeouts=timeouts, retry=retry
    )
    try:
        if credential.deployment == CLOUD:
            yield Cloud(client, groups=credential.groups)
        else:
            yield DataCenter(client, groups=credential.groups)
    finally:
        client.close()
