"""The simulator's replies, checked against Atlassian's OpenAPI documents (openapi-core).

The documents are copies kept in `openapi/` (see its README for provenance and sha256);
they are loaded once per test session, with their known defects patched (`_patch_dc`,
`_patch_cloud`), and requests matched against each document's own server.
"""

import functools
import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.jira_sim.server import Exchange, JiraSim

FOLDER = Path(__file__).parent / "openapi"
DC_SERVER = "http://localhost:8090"
CLOUD_SERVER = "https://your-domain.atlassian.net"


def _load(name: str) -> dict[str, Any]:
    with gzip.open(FOLDER / name, "rb") as file:
        document: dict[str, Any] = json.load(file)
    return document


def _array_of(operation: dict[str, Any], schema: str) -> None:
    content = operation["responses"]["200"]["content"]["application/json"]
    content["schema"] = {"type": "array", "items": {"$ref": f"#/components/schemas/{schema}"}}


def _patch_dc(document: dict[str, Any]) -> dict[str, Any]:
    """DC 10.3's known defects: `user/search` and `issue/{key}/remotelink` answer arrays,
    not one bean; `group/member` takes `groupname` in the query, and answers a page of users."""
    _array_of(document["paths"]["/api/2/user/search"]["get"], "UserBean")
    _array_of(
        document["paths"]["/api/2/issue/{issueIdOrKey}/remotelink"]["get"], "RemoteIssueLinkBean"
    )
    members = document["paths"]["/api/2/group/member"]["get"]
    for parameter in members["parameters"]:
        if parameter["name"] == "groupname":
            parameter["in"] = "query"
    members["responses"]["200"]["content"]["application/json"]["schema"] = {
        "type": "object",
        "properties": {
            "self": {"type": "string"},
            "nextPage": {"type": "string"},
            "maxResults": {"type": "integer"},
            "startAt": {"type": "integer"},
            "total": {"type": "integer"},
            "isLast": {"type": "boolean"},
            "values": {"type": "array", "items": {"$ref": "#/components/schemas/UserJsonBean"}},
        },
        "required": ["isLast", "values"],
    }
    document["servers"] = [{"url": f"{DC_SERVER}/rest"}]
    return document


def _patch_cloud(document: dict[str, Any]) -> dict[str, Any]:
    return document


@functools.cache
def specs() -> dict[str, OpenAPI]:
    """The two documents, loaded once (about 2.5 s in all)."""
    config = Config(spec_validator_cls=None)
    dc = OpenAPI.from_dict(_patch_dc(_load("jira-dc-10.3.openapi.json.gz")), config=config)
    cloud = OpenAPI.from_dict(
        _patch_cloud(_load("jira-cloud-platform-v3.openapi.json.gz")), config=config
    )
    return {"dc": dc, "cloud": cloud}


class _Request:
    def __init__(self, host_url: str, exchange: Exchange) -> None:
        self.host_url = host_url
        self.path = exchange.path
        self.method = exchange.method.lower()
        self.body: bytes | None = None
        self.content_type = "application/json"
        query = [(k, v) for k, values in exchange.query.items() for v in values]
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(query), header=Headers(exchange.headers)
        )
        self.full_url_pattern = host_url + self.path + ("?" + urlencode(query) if query else "")


class _Response:
    def __init__(self, exchange: Exchange) -> None:
        self.status_code = exchange.status
        self.headers = Headers({"Content-Type": "application/json", **exchange.reply_headers})
        self.content_type = "application/json"
        self.data = exchange.body


def check_replies(sim: JiraSim, *, limit: int = 200) -> int:
    """Validate the simulator's successful replies (up to `limit` of them, each path's
    first ones first) against the flavour's document; raise on the first that does not
    conform. Return how many were checked."""
    spec = specs()["cloud" if sim.cloud else "dc"]
    host = CLOUD_SERVER if sim.cloud else DC_SERVER
    chosen = [e for e in sim.exchanges if e.status < 300][:limit]
    for exchange in chosen:
        spec.validate_response(_Request(host, exchange), _Response(exchange))
        _required(sim, exchange)
    return len(chosen)


def _required(sim: JiraSim, exchange: Exchange) -> None:
    """What a client needs that the documents do not require (many Cloud schemas list no
    required properties)."""
    if "/user" not in exchange.path and "/group/member" not in exchange.path:
        _required_of_links(exchange)
        return
    body = json.loads(exchange.body)
    users = (
        body if isinstance(body, list) else body.get("values") if isinstance(body, dict) else None
    )
    for user in users or []:
        needed = ("accountId", "accountType", "active") if sim.cloud else ("key", "name", "active")
        missing = [name for name in needed if name not in user]
        assert not missing, f"{exchange.path}: a user without {missing}"


def _required_of_links(exchange: Exchange) -> None:
    """A remote link written has its id and its address (the documents require neither)."""
    if exchange.method == "POST" and "/remotelink" in exchange.path:
        body = json.loads(exchange.body)
        assert isinstance(body.get("id"), int), exchange.body
        assert body.get("self"), exchange.body
