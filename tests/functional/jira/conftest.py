"""Fixtures of the Jira connector's tests: simulators (their replies checked against
Atlassian's OpenAPI documents when the test ends), and the REST API's clients."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from accord.domain.users import Actor
from accord.jira.connect import connect
from accord.services import jira_connection
from accord.services.secrets import SecretBox
from accord.services.transactions import Database
from tests.functional.api_support import admin, api, client_of, clients, token
from tests.jira_sim import server as sim_server
from tests.jira_sim.openapi import check_replies
from tests.jira_sim.server import JiraSim
from tests.support import SECRET_KEY

__all__ = ["admin", "api", "client_of", "clients", "jira", "token"]

MakeSim = Callable[[str], JiraSim]
ACCORD = shutil.which("accord", path=str(Path(sys.executable).parent)) or "accord"
BOX = SecretBox(key=SECRET_KEY, key_file=Path("unused"))


def connect_sim(db: Database, sim: JiraSim, groups: tuple[str, ...] = ()) -> None:
    """Connect the simulator, as `accord jira connect` does."""
    if sim.cloud:
        credential = jira_connection.credential_from(
            sim.url,
            email=sim_server.CLOUD_EMAIL,
            api_token=sim_server.API_TOKEN,
            cloud=True,
            groups=groups,
        )
    else:
        credential = jira_connection.credential_from(sim.url, token=sim_server.TOKEN, groups=groups)
    connect(db, BOX, credential, actor=Actor.system("cli"))


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


class Cli:
    """`accord jira ...` run as an administrator runs it, in its own process."""

    def __init__(self, url: str, folder: Path, **env: str) -> None:
        self.env = {**os.environ, "ACCORD_DATABASE_URL": url, **env}
        self.env.pop("ACCORD_SECRET_KEY", None)
        self.env.update(env)
        self.folder = folder

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ACCORD, "jira", *args],
            env=self.env,
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
