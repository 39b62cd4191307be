"""The REST API against its own OpenAPI document, with Schemathesis.

Every operation of /api/v1/openapi.json is called over real HTTP on the live server, as
the demo administrator, with requests drawn from the document: its examples, the
coverage phase (boundaries, and invalid input the API must refuse), and a bounded
number of random ones. No reply may be a 5xx, and every reply must be documented: its
status, content type, headers and body.

The operations are collected from the document the app generates, which is the one the
live server serves (the first test checks that); Schemathesis's fixture-based loader,
which would fetch it from the server, fails on pytest 9.2.
"""

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from accord.app import create_app
from accord.domain.users import Actor
from accord.services import tokens
from accord.services.spreadsheets import MEDIA_TYPE as XLSX
from accord.services.transactions import Database, run
from accord.settings import Settings
from tests.support import LiveServer, Server

OPENAPI = "/api/v1/openapi.json"
RANDOM_CASES = 12
REPLY_TIMEOUT = 60
"""Seconds a reply may take (Schemathesis's default is 10)."""
"""Random requests per operation, after the examples and the coverage phase."""


def _document() -> dict[str, Any]:
    app = create_app(Settings(database_url="sqlite://", access_log=False, run_jobs=False))
    return app.openapi()


def _schema() -> schemathesis.BaseSchema:
    config = schemathesis.Config()
    schema = schemathesis.openapi.from_dict(_document(), config=config)
    project = schema.config
    project.generation.update(max_examples=RANDOM_CASES, deterministic=True, database="none")
    project.phases.update(phases=["examples", "coverage", "fuzzing"])
    # Well-formed requests may still be refused for what the document cannot say: which
    # field codes a directory has (422), what a filter, sort or cursor means (400), and
    # which version an entry is at (412).
    acceptance = project.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "400", "412", "422"]
    # A request that breaks the document may also be refused at the wire, before the app
    # reads it: a URL over 65,535 bytes (a long cursor, say) is a 414.
    rejection = project.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "414"]
    return schema


schema = _schema()


@pytest.fixture
def token(db: Database) -> str:
    text, _ = run(
        db, lambda tx: tokens.create_token(tx, "admin", actor=Actor.system("cli")), write=True
    )
    return text


def test_the_live_server_serves_the_document_tested(server: Server) -> None:
    with server.client() as http:
        response = http.get(OPENAPI)
    assert response.status_code == 200
    assert response.json() == _document()
    assert response.json()["openapi"].startswith("3.1.")


def test_every_operation_is_described_with_its_token_and_its_problems() -> None:
    document = _document()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API token, made by `accord token create LOGIN`",
    }
    for path, methods in document["paths"].items():
        assert path.startswith("/api/v1/")
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            assert operation["security"] == [{"bearer": []}], where
            assert operation["summary"], where
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if status.startswith(("4", "5")):
                    assert list(content) == ["application/problem+json"], (where, status)
                elif path.endswith("/export"):
                    assert list(content) == ["text/csv", XLSX], (where, status)
                elif status not in ("204", "304"):
                    assert content["application/json"]["schema"], (where, status)


@schema.parametrize()
@settings(
    deadline=None,
    # One server and database serve every request drawn for an operation, on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_reply_is_documented(
    case: schemathesis.Case, live_server: LiveServer, token: str
) -> None:
    # On a socket: Schemathesis sends its requests with the requests library.
    headers = {"Authorization": f"Bearer {token}"}
    # A reply's documentation is tested, not its speed: a loaded machine once held one
    # past Schemathesis's default of 10 s.
    response = case.call(base_url=live_server.url, headers=headers, timeout=REPLY_TIMEOUT)
    case.validate_response(
        response,
        headers=headers,
        transport_kwargs={
            "base_url": live_server.url,
            "headers": headers,
            "timeout": REPLY_TIMEOUT,
        },
    )
