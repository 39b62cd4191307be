"""The seam to Jira: what Accord's services ask of a Jira instance.

A connector (`accord.jira`: Data Center REST v2, Cloud REST v3) implements this; until
one is configured, services receive None and keep everything in Accord's own tables.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

DATA_CENTER = "datacenter"
CLOUD = "cloud"
DEPLOYMENTS = (DATA_CENTER, CLOUD)
TOKEN = "token"
"""Data Center: a personal access token, sent as Bearer."""
PASSWORD = "password"
"""Data Center: a user and password (basic)."""
API_TOKEN = "api-token"
"""Cloud: an e-mail address and an API token (basic)."""
AUTHS = {DATA_CENTER: (TOKEN, PASSWORD), CLOUD: (API_TOKEN,)}


@dataclass(frozen=True, slots=True)
class Credential:
    """How to reach the Jira instance and act in it."""

    url: str
    deployment: str
    auth: str
    username: str
    """The user (Data Center basic), the e-mail (Cloud), "" (a token)."""
    secret: str
    groups: tuple[str, ...] = ()
    """The groups whose members are synced; none: every user."""

    def __repr__(self) -> str:  # never the secret, in a log or a traceback
        return f"Credential({self.url!r}, {self.deployment}, {self.auth}, {self.username!r})"


@dataclass(frozen=True, slots=True)
class JiraUser:
    key: str
    """What names the user for good: Data Center's user key, Cloud's accountId."""
    login: str
    """What a person types: Data Center's username; Cloud's e-mail, else its accountId."""
    display_name: str
    email: str
    """"" when Jira does not show it (Cloud privacy settings)."""
    active: bool


@dataclass(frozen=True, slots=True)
class JiraServer:
    """What `serverInfo` and `myself` told of a Jira instance and the acting account."""

    title: str
    version: str
    deployment_type: str
    """As Jira names it: "Server", "Data Center" or "Cloud"."""
    account: str
    """The acting account, as `myself` names it (login or e-mail, and display name)."""


Progress = Callable[[int], None]
"""Told how many users were fetched so far, as pages arrive."""
SyncProgress = Callable[[int, int], None]
"""Told how many of how many users were synced so far."""


class JiraGateway(Protocol):
    def server(self) -> JiraServer:
        """What Jira says of itself and of the acting account (a check of the credential)."""

    def users(self, progress: Progress | None = None) -> Iterable[JiraUser]:
        """Every user of the Jira instance (or of the configured groups), each once."""

    def set_issue_property(self, issue_key: str, field_key: str, value: str) -> None:
        """Write a CRM custom field's value on an issue."""

    def put_remote_link(self, issue_key: str, global_id: str, title: str, url: str) -> None:
        """Put a remote link on an issue, or update the one with that `global_id`."""

    def delete_remote_link(self, issue_key: str, global_id: str) -> None:
        """Remove the issue's remote link with that `global_id` (none there: no error)."""
