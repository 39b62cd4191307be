"""The simulator's remote issue links (`/issue/{key}/remotelink`), kept per issue by
`globalId` as Jira keeps them.

POST with a `globalId` already on the issue updates that link (Data Center answers 200,
as its document says; Cloud 201 for a new link, 200 for an update); `object.url` and
`object.title` are required and a `globalId` is at most 255 characters (400 otherwise);
DELETE `?globalId=` answers 204 (404 when the issue has no such link); GET lists the
issue's links. An issue in `missing` does not exist (404).
"""

import re
import threading
from dataclasses import dataclass, field
from typing import Any

PATH = re.compile(r"/issue/(?P<key>[^/]+)/remotelink")
Reply = tuple[int, dict[str, str], Any]


@dataclass(frozen=True, slots=True)
class Write:
    """One write Jira accepted: what a test counts (each once, in order)."""

    method: str
    issue_key: str
    global_id: str
    title: str = ""


@dataclass
class RemoteLinks:
    base_url: str
    cloud: bool
    links: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Issue key -> globalId -> the link as Jira answers it."""
    writes: list[Write] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)
    next_id: int = 10000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def titles(self, issue_key: str) -> dict[str, str]:
        """The issue's links: globalId -> title."""
        with self.lock:
            found = self.links.get(issue_key, {})
            return {gid: link["object"]["title"] for gid, link in found.items()}

    def answer(self, method: str, key: str, query: dict[str, str], body: Any) -> Reply:
        if key in self.missing:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        with self.lock:
            if method == "GET":
                return 200, {}, list(self.links.get(key, {}).values())
            if method == "POST":
                return self._post(key, body)
            if method == "DELETE":
                return self._delete(key, query.get("globalId", ""))
        return _error(405, "Method not allowed")

    def _post(self, key: str, body: Any) -> Reply:
        problem = _invalid(body)
        if problem:
            return 400, {}, {"errorMessages": [], "errors": problem}
        gid, obj = body["globalId"], body["object"]
        on_issue = self.links.setdefault(key, {})
        existing = on_issue.get(gid)
        link_id = existing["id"] if existing else self._new_id()
        on_issue[gid] = {
            "id": link_id,
            "self": self._self(key, link_id),
            "globalId": gid,
            "object": {"url": obj["url"], "title": obj["title"]},
        }
        self.writes.append(Write("POST", key, gid, obj["title"]))
        status = 201 if self.cloud and existing is None else 200
        return status, {}, {"id": link_id, "self": self._self(key, link_id)}

    def _delete(self, key: str, gid: str) -> Reply:
        if not gid:
            return _error(400, "The globalId query parameter is required.")
        if self.links.get(key, {}).pop(gid, None) is None:
            return _error(404, "No remote link with this globalId on the issue.")
        self.writes.append(Write("DELETE", key, gid))
        return 204, {}, None

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _self(self, key: str, link_id: int) -> str:
        api = "/rest/api/3" if self.cloud else "/rest/api/2"
        return f"{self.base_url}{api}/issue/{key}/remotelink/{link_id}"


def _invalid(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        return {"body": "A JSON object is required."}
    obj = body.get("object")
    gid = body.get("globalId")
    errors: dict[str, str] = {}
    if not isinstance(obj, dict) or not isinstance(obj.get("url"), str) or not obj["url"]:
        errors["url"] = "'url' is required."
    if not isinstance(obj, dict) or not isinstance(obj.get("title"), str) or not obj["title"]:
        errors["title"] = "'title' is required."
    if not isinstance(gid, str) or not gid or len(gid) > 255:
        errors["globalId"] = "A globalId of 1 to 255 characters is required here."
    return errors


def _error(status: int, message: str) -> Reply:
    return status, {}, {"errorMessages": [message], "errors": {}}
