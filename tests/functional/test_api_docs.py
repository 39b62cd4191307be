"""The interactive API docs at /api/v1/docs: served whole by the app, naming no other host;
and what the document says that FastAPI cannot infer from the routes."""

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib.resources import files

import httpx
import pytest

from tests.support import Server, read_only_db, read_only_demo_url, read_only_server

SHARED = (read_only_demo_url, read_only_db, read_only_server)
"""Every test here only reads the documentation: they share one database and one server."""

DOCS = "/api/v1/docs"


class Links(HTMLParser):
    """Every URL a page refers to (src, href), and the data-openapi of Swagger UI's root."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.openapi = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append(value)
            if name == "data-openapi" and value is not None:
                self.openapi = value


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def page_links(http: httpx.Client) -> Links:
    response = http.get(DOCS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    links = Links()
    links.feed(response.text)
    return links


def test_the_page_names_no_other_host(http: httpx.Client) -> None:
    response = http.get(DOCS)
    assert not re.search(r"https?://|//[a-z0-9]", response.text, re.IGNORECASE)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy


def test_every_file_the_page_needs_comes_from_the_app(http: httpx.Client) -> None:
    links = page_links(http)
    local = [url for url in links.urls if not url.startswith("data:")]
    assert local
    assert {url.rsplit("/", 1)[-1] for url in local} == {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "init.js",
    }
    for url in local:
        assert url.startswith(DOCS + "/"), url
        response = http.get(url)
        assert response.status_code == 200, url
        assert response.content, url


def test_swagger_ui_is_the_installed_package_s(http: httpx.Client) -> None:
    installed = (files("fastapi_offline") / "static" / "swagger-ui-bundle.js").read_bytes()
    response = http.get(f"{DOCS}/assets/swagger-ui-bundle.js")
    assert response.content == installed
    assert "javascript" in response.headers["content-type"]
    assert http.get(f"{DOCS}/assets/swagger-ui.css").headers["content-type"].startswith("text/css")


def test_the_page_shows_the_api_s_document_without_a_validator(http: httpx.Client) -> None:
    links = page_links(http)
    assert links.openapi == "/api/v1/openapi.json"
    document = http.get(links.openapi).json()
    assert document["info"]["title"] == "Accord"
    init = http.get(f"{DOCS}/init.js").text
    assert "validatorUrl: null" in init  # the validator badge would fetch from swagger.io
    assert not re.search(r"https?://", init)


def test_the_docs_are_not_operations_of_the_api(http: httpx.Client) -> None:
    paths = http.get("/api/v1/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith(DOCS)]


def test_a_missing_asset_is_a_problem(http: httpx.Client) -> None:
    response = http.get(f"{DOCS}/assets/nothing.js")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_every_post_and_patch_that_writes_declares_the_idempotency_key(
    http: httpx.Client,
) -> None:
    paths = http.get("/api/v1/openapi.json").json()["paths"]
    declared, searches = set(), set()
    for path, operations in paths.items():
        for method in set(operations) & {"post", "patch"}:
            where = f"{method.upper()} {path}"
            headers = [p for p in operations[method].get("parameters", []) if p["in"] == "header"]
            keys = [p for p in headers if p["name"].lower() == "idempotency-key"]
            if path.endswith("/search"):  # a read sent as POST for its body: nothing to repeat
                assert keys == [], where
                searches.add(where)
                continue
            assert len(keys) == 1, where
            assert keys[0]["required"] is False, where
            assert keys[0]["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
            declared.add(where)
    assert {
        "POST /api/v1/users",
        "PATCH /api/v1/users/{login}",
        "POST /api/v1/groups",
        "POST /api/v1/grants",
        "POST /api/v1/dictionaries",
        "POST /api/v1/dictionaries/{dictionary_id}/values",
        "POST /api/v1/directories",
        "POST /api/v1/directories/{code}/fields",
        "PATCH /api/v1/directories/{code}/fields/{field_code}",
        "POST /api/v1/companies",
        "PATCH /api/v1/companies/{entry_id}",
        "POST /api/v1/companies/batch",
    } <= declared
    assert searches == {
        f"POST /api/v1{base}/search"
        for base in ("/companies", "/contacts", "/directories/{code}/entries")
    }
