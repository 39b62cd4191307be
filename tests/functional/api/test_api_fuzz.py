"""Property test of the REST API: hostile input of any kind is refused, never a 5xx.

Paths, query strings, headers and bodies are drawn from what attackers and careless
clients send: numbers of thousands of digits, bytes that are no text (raw and
percent-encoded), NULs and control characters, lone surrogates, nesting hundreds deep,
with and without a valid token. Every reply is below 500 and, when it is an error, a
problem JSON with a stable code (RFC 9457), as every other error of the API.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accord.services.transactions import open_database
from tests.functional.api_support import API, PROBLEM, create_token
from tests.support import InProcessServer, Templates, settings_for

ROUTES = [
    ("GET", "/companies"),
    ("POST", "/companies"),
    ("GET", "/companies/{}"),
    ("PUT", "/companies/{}"),
    ("PATCH", "/companies/{}"),
    ("DELETE", "/companies/{}"),
    ("GET", "/companies/{}/history"),
    ("POST", "/companies/search"),
    ("POST", "/companies/batch"),
    ("GET", "/contacts/{}"),
    ("GET", "/directories/{}"),
    ("GET", "/directories/{}/entries"),
    ("POST", "/directories/{}/entries"),
    ("PATCH", "/directories/CLIENTS/entries/{}"),
    ("POST", "/directories/{}/fields"),
    ("PATCH", "/directories/CLIENTS/fields/{}"),
    ("GET", "/dictionaries/{}"),
    ("POST", "/dictionaries/{}/values"),
    ("GET", "/users/{}"),
    ("PUT", "/groups/{}/members/{}"),
    ("GET", "/grants/{}"),
    ("GET", "/me"),
]
"""Real routes (so the parts after the path are reached), each with the method it serves."""
PARAMETERS = ["filter", "q", "sort", "fields", "limit", "cursor", "count", "mode", "match"]
HEADERS = ["if-match", "if-none-match", "idempotency-key", "content-type", "accept"]
PLAUSIBLE = st.sampled_from(["1", "3", "CLIENTS", "CONTACTS", "org_name", "admin", "Sales"])

HOSTILE_TEXT = st.one_of(
    st.integers(min_value=4000, max_value=6000).map(lambda n: "9" * n),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.binary(max_size=40).map(lambda raw: quote_from_bytes(raw, safe="")),
    st.sampled_from(["%FF", "%00", "%C0%AF", "%ED%A0%80", "1e999999", "-0", "NaN", "(" * 300]),
    st.text(max_size=40),
)


def json_value(depth: int) -> st.SearchStrategy[str]:
    """JSON text, valid or not, that nests up to `depth` and holds hostile scalars."""
    scalars = st.one_of(
        HOSTILE_TEXT.map(lambda text: '"' + text.replace("\\", "").replace('"', "") + '"'),
        st.sampled_from(['"\\ud800"', '"\\u0000"', "1e400", "-1e400", "0.0", "null", "[]"]),
        st.integers(min_value=300, max_value=5000).map(lambda n: "1" + "0" * n),
    )
    return st.one_of(
        scalars,
        st.integers(min_value=1, max_value=depth).map(lambda n: "[" * n + "1" + "]" * n),
        st.integers(min_value=1, max_value=depth).map(lambda n: '{"a":' * n + "1" + "}" * n),
        st.dictionaries(st.sampled_from(["filter", "items", "org_name", "id", "op"]), scalars).map(
            lambda d: "{" + ",".join(f'"{k}":{v}' for k, v in d.items()) + "}"
        ),
        st.binary(max_size=60).map(lambda raw: raw.decode("latin-1")),
    )


@st.composite
def requests(draw: st.DrawFn, token: str) -> tuple[str, str, dict[str, str], bytes]:
    method, template = draw(st.sampled_from(ROUTES))
    if draw(st.integers(0, 9)) == 9:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
    segments = st.one_of(PLAUSIBLE, HOSTILE_TEXT.map(lambda text: text.replace("/", "%2F")))
    path = template.format(*(draw(segments) or "x" for _ in range(template.count("{}"))))
    query = "&".join(
        f"{name}={value}"
        for name, value in draw(
            st.lists(st.tuples(st.sampled_from(PARAMETERS), HOSTILE_TEXT), max_size=3)
        )
    )
    with_token = draw(st.integers(0, 9)) < 9
    headers = {"authorization": f"Bearer {token}"} if with_token else {}
    for name, value in draw(
        st.lists(st.tuples(st.sampled_from(HEADERS), HOSTILE_TEXT), max_size=2)
    ):
        # What an HTTP client can send at all: visible ASCII (httpx refuses the rest).
        headers[name] = "".join(c if " " <= c <= "~" else "?" for c in value)
    body = draw(json_value(600)).encode("utf-8", "surrogatepass") if method != "GET" else b""
    return method, API + path + ("?" + query if query else ""), headers, body


@pytest.fixture(scope="module")
def target(templates: Templates) -> Iterator[tuple[httpx.Client, str]]:
    """One demo server per database for every example, and a token of its administrator."""
    with templates.fresh("demo") as url:
        database = open_database(url, sqlite_synchronous="NORMAL")
        token = create_token(database)
        with InProcessServer(settings_for(url), database) as app, app.client() as client:
            yield client, token
        database.dispose()


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_no_hostile_request_gets_a_server_error(
    target: tuple[httpx.Client, str], data: st.DataObject
) -> None:
    client, token = target
    method, url, headers, body = data.draw(requests(token), label="request")
    try:
        response = client.request(method, httpx.URL(url), headers=headers, content=body)
    except httpx.InvalidURL:
        event("not sent: an invalid URL")
        return  # not a request a client library would send
    event(f"status {response.status_code}")
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400 and response.status_code != 405:
        assert response.headers["content-type"] == PROBLEM, response.headers
        problem: dict[str, Any] = response.json()
        assert problem["code"], problem
