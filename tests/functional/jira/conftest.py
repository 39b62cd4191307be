"""Fixtures of the Jira connector's tests: simulators (their replies checked against
Atlassian's OpenAPI documents when the test ends), and the REST API's clients."""

from collections.abc import Callable, Iterator

import pytest

from tests.functional.api_support import admin, api, client_of, clients, token
from tests.jira_sim.openapi import check_replies
from tests.jira_sim.server import JiraSim

__all__ = ["admin", "api", "client_of", "clients", "jira", "token"]

MakeSim = Callable[[str], JiraSim]


@pytest.fixture
def jira() -> Iterator[MakeSim]:
    """Start simulators of a flavour (dc9, dc10, cloud); each one's replies must conform
    to the flavour's OpenAPI document."""
    started: list[JiraSim] = []

    def make(flavour: str) -> JiraSim:
        sim = JiraSim(flavour).__enter__()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.__exit__(None, None, None)
    for sim in started:
        check_replies(sim)
