"""The seam to Jira: what Accord's services ask of a Jira instance.

A connector (Server/Data Center REST v2, Cloud REST v3) implements this; until one is
configured, services receive None and keep everything in Accord's own tables.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class JiraUser:
    key: str
    login: str
    display_name: str
    email: str
    active: bool


class JiraGateway(Protocol):
    def users(self) -> Iterable[JiraUser]:
        """Every user of the Jira instance."""

    def set_issue_property(self, issue_key: str, field_key: str, value: str) -> None:
        """Write a CRM custom field's value on an issue."""
