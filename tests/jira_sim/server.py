"""The simulator: an HTTP server in a thread, speaking Jira's REST API as documented.

Flavours: `dc9` (REST v2; `user/search` stops at 1,000 users, no `user/list`), `dc10`
(REST v2; `user/search` stops at 100, `user/list` pages with a cursor) and `cloud`
(REST v3; `users/search` lists app accounts too, e-mails may be hidden). Faults are
queued by the test: a status (401, 403, 404, 429 and 503 with `Retry-After`, ...), a
slow reply, a dropped connection.
"""

import base64
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.jira_sim import remote_links
from tests.jira_sim.remote_links import RemoteLinks

FLAVOURS = ("dc9", "dc10", "cloud")
TOKEN = "sim-personal-access-token"
ADMIN, PASSWORD = "jira-admin", "sim-password"
CLOUD_EMAIL, API_TOKEN = "admin@sim.example", "sim-api-token"
SEARCH_CAP = {"dc9": 1000, "dc10": 100}
MAX_PAGE = 1000
MAX_RECORDED = 300
"""Exchanges kept for checking against the OpenAPI documents (the first ones)."""


@dataclass
class SimUser:
    key: str
    """DC: the user key (JIRAUSERnnnn); Cloud: the accountId."""
    name: str
    display_name: str
    email: str
    active: bool = True
    account_type: str = "atlassian"
    email_hidden: bool = False


@dataclass
class Fault:
    status: int = 0
    """0: no status of its own (a delay alone, or a dropped connection)."""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    path: str = ""
    """Only requests whose path holds this."""


@dataclass
class Exchange:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    reply_headers: dict[str, str]
    body: bytes


class JiraSim:
    """A Jira with users, on http://127.0.0.1:<port>; `record` keeps every exchange for
    checking against the OpenAPI documents."""

    def __init__(self, flavour: str, *, record: bool = True) -> None:
        assert flavour in FLAVOURS
        self.flavour = flavour
        self.cloud = flavour == "cloud"
        self.api = "/rest/api/3" if self.cloud else "/rest/api/2"
        self.users: list[SimUser] = []
        self.groups: dict[str, list[str]] = {}
        """Group name -> the keys of its members."""
        self.faults: deque[Fault] = deque()
        self.requests: Counter[str] = Counter()
        self.exchanges: list[Exchange] = []
        self.record = record
        self.lock = threading.Lock()
        sim = self

        class Handler(_Handler):
            simulator = sim

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.remote_links = RemoteLinks(self.url, self.cloud)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def __enter__(self) -> "JiraSim":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.http.shutdown()
        self.http.server_close()

    # What tests set up

    def add_users(self, count: int, *, start: int = 0, domain: str = "corp.example") -> None:
        """`count` users with names as people have them (several share a surname, many
        a first name), so that prefixes of logins, names and e-mails overlap."""
        for n in range(start, start + count):
            first, last = FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]
            login = f"{first[0]}{last}{n}".lower()
            key = self._key(n)
            self.users.append(
                SimUser(key, login, f"{first} {last}", f"{first}.{last}{n}@{domain}".lower())
            )

    def add_user(self, user: SimUser) -> SimUser:
        self.users.append(user)
        return user

    def user(self, name: str) -> SimUser:
        return next(u for u in self.users if u.name == name)

    def fail(self, status: int, *, times: int = 1, path: str = "", **headers: str) -> None:
        for _ in range(times):
            self.faults.append(
                Fault(status, {k.replace("_", "-"): v for k, v in headers.items()}, path=path)
            )

    def slow(self, seconds: float, *, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(Fault(delay=seconds))

    def drop(self, *, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(Fault(drop=True))

    def _key(self, n: int) -> str:
        return f"5b10ac8d82e05b22cc7d{n:04x}" if self.cloud else f"JIRAUSER{10000 + n}"

    # The API

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], auth: str, body: Any = None
    ) -> tuple[int, dict[str, str], Any]:
        if not self._authorised(auth):
            return 401, {}, {"errorMessages": ["You are not authenticated."], "errors": {}}
        one = {k: v[-1] for k, v in query.items()}
        route = path.removeprefix(self.api)
        links = remote_links.PATH.fullmatch(route)
        if links is not None and path.startswith(self.api + "/"):
            return self.remote_links.answer(method, unquote(links["key"]), one, body)
        if method != "GET" or not path.startswith(self.api + "/"):
            return 404, {}, {"errorMessages": ["Not found"], "errors": {}}
        if route == "/serverInfo":
            return 200, {}, self._server_info()
        if route == "/myself":
            return 200, {}, self._myself()
        if route == "/user/search" and not self.cloud:
            return self._user_search(one)
        if route == "/user/list" and self.flavour == "dc10":
            return self._user_list(one)
        if route == "/users/search" and self.cloud:
            return self._users_search(one)
        if route == "/group/member":
            return self._group_member(one)
        return 404, {}, {"errorMessages": ["Not found"], "errors": {}}

    def _authorised(self, auth: str) -> bool:
        if self.cloud:
            return auth == _basic(CLOUD_EMAIL, API_TOKEN)
        return auth in (f"Bearer {TOKEN}", _basic(ADMIN, PASSWORD))

    def _server_info(self) -> dict[str, Any]:
        version = {"dc9": [9, 12, 15], "dc10": [10, 3, 0], "cloud": [1001, 0, 0]}[self.flavour]
        info: dict[str, Any] = {
            "baseUrl": self.url,
            "version": ".".join(map(str, version)) + ("-SNAPSHOT" if self.cloud else ""),
            "versionNumbers": version,
            "deploymentType": "Cloud" if self.cloud else "Server",
            "buildNumber": 100000,
            "serverTitle": "Simulated Jira",
        }
        if not self.cloud:
            info["buildDate"] = "2025-01-01T00:00:00.000+0000"
            info["serverTime"] = "2026-12-07T12:00:00.000+0000"
        return info

    def _myself(self) -> dict[str, Any]:
        if self.cloud:
            return {
                "accountId": "5b10a2844c20165700ede21g",
                "accountType": "atlassian",
                "active": True,
                "displayName": "Sim Admin",
                "emailAddress": CLOUD_EMAIL,
                "self": f"{self.url}/rest/api/3/user?accountId=5b10a2844c20165700ede21g",
                "timeZone": "UTC",
            }
        return {
            "self": f"{self.url}/rest/api/2/user?username={ADMIN}",
            "key": "JIRAUSER10000",
            "name": ADMIN,
            "emailAddress": "admin@sim.example",
            "displayName": "Sim Admin",
            "active": True,
            "timeZone": "UTC",
        }

    def _user_search(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        text = query.get("username", "").lower()
        if not text:
            return (
                400,
                {},
                {"errorMessages": ["The username query parameter was not provided"], "errors": {}},
            )
        active = query.get("includeActive", "true") == "true"
        inactive = query.get("includeInactive", "false") == "true"
        found = [
            u
            for u in self.users
            if ((u.active and active) or (not u.active and inactive)) and _matches(u, text)
        ]
        found.sort(key=lambda u: u.name)
        start = int(query.get("startAt", "0"))
        size = min(int(query.get("maxResults", "50")), MAX_PAGE)
        end = min(start + size, SEARCH_CAP[self.flavour])
        return 200, {}, [self._dc_user(u) for u in found[start:end]]

    def _user_list(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        start = int(query.get("cursor") or "0")
        size = min(int(query.get("maxResults", "2000")), 2000)
        page = self.users[start : start + size]
        last = start + size >= len(self.users)
        body: dict[str, Any] = {
            "self": f"{self.url}/rest/api/2/user/list?cursor={start}&maxResults={size}",
            "maxResults": size,
            "values": [self._dc_user(u) for u in page],
            "isLast": last,
        }
        if not last:
            body["nextCursor"] = str(start + size)
            body["nextPage"] = (
                f"{self.url}/rest/api/2/user/list?cursor={start + size}&maxResults={size}"
            )
        return 200, {}, body

    def _users_search(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        start = int(query.get("startAt", "0"))
        size = min(int(query.get("maxResults", "50")), MAX_PAGE)
        return 200, {}, [self._cloud_user(u) for u in self.users[start : start + size]]

    def _group_member(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        """Pages of at most 50 members (`isLast`, `nextPage`), as both flavours page them."""
        name = query.get("groupname", "")
        if name not in self.groups:
            return 404, {}, {"errorMessages": [f"The group '{name}' does not exist."], "errors": {}}
        inactive = query.get("includeInactiveUsers", "false") == "true"
        keys = set(self.groups[name])
        members = [u for u in self.users if u.key in keys and (u.active or inactive)]
        start = int(query.get("startAt", "0"))
        size = min(int(query.get("maxResults", "50")), 50)
        page = members[start : start + size]
        last = start + size >= len(members)
        render = self._cloud_user if self.cloud else self._dc_user
        body: dict[str, Any] = {
            "self": f"{self.url}{self.api}/group/member?groupname={name}&startAt={start}",
            "maxResults": size,
            "startAt": start,
            "total": len(members),
            "isLast": last,
            "values": [render(u) for u in page],
        }
        if not last:
            body["nextPage"] = (
                f"{self.url}{self.api}/group/member?groupname={name}&startAt={start + size}"
            )
        return 200, {}, body

    def _dc_user(self, user: SimUser) -> dict[str, Any]:
        return {
            "self": f"{self.url}/rest/api/2/user?username={user.name}",
            "key": user.key,
            "name": user.name,
            "emailAddress": user.email,
            "displayName": user.display_name,
            "active": user.active,
            "timeZone": "UTC",
        }

    def _cloud_user(self, user: SimUser) -> dict[str, Any]:
        body: dict[str, Any] = {
            "accountId": user.key,
            "accountType": user.account_type,
            "active": user.active,
            "displayName": user.display_name,
            "self": f"{self.url}/rest/api/3/user?accountId={user.key}",
        }
        if user.email and not user.email_hidden and user.account_type == "atlassian":
            body["emailAddress"] = user.email
        return body


class _Handler(BaseHTTPRequestHandler):
    simulator: JiraSim
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes: without TCP_NODELAY the second waits
    # for the client's delayed ACK, 40 ms a request on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        sim = self.simulator
        length = int(self.headers.get("Content-Length") or 0)
        sent = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        with sim.lock:
            sim.requests[parts.path] += 1
            fault = _take_fault(sim, parts.path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.drop:
            self.close_connection = True
            return
        if fault is not None and fault.status:
            status, headers, body = (
                fault.status,
                fault.headers,
                {"errorMessages": [f"Simulated {fault.status}"], "errors": {}},
            )
        else:
            status, headers, body = sim.answer(
                method, parts.path, query, self.headers.get("Authorization", ""), _json(sent)
            )
        data = b"" if status == 204 else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        if sim.record and len(sim.exchanges) < MAX_RECORDED:
            exchange = Exchange(
                method, parts.path, query, dict(self.headers), status, headers, data
            )
            with sim.lock:
                sim.exchanges.append(exchange)


def _json(sent: bytes) -> Any:
    try:
        return json.loads(sent) if sent else None
    except ValueError:
        return None


def _take_fault(sim: JiraSim, path: str) -> Fault | None:
    if sim.faults and (not sim.faults[0].path or sim.faults[0].path in path):
        return sim.faults.popleft()
    return None


def _matches(user: SimUser, text: str) -> bool:
    """As Jira's user search: `.` is everyone; else a prefix of the login, the e-mail or a
    word of the display name, in any case."""
    if text == ".":
        return True
    candidates = [user.name, user.email, *user.display_name.split()]
    return any(c.lower().startswith(text) for c in candidates)


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


FIRST = [
    "Anna",
    "Boris",
    "Carla",
    "David",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Katya",
    "Liam",
    "Maria",
    "Nikolai",
    "Olga",
    "Pavel",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Xenia",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Kowalski",
    "Smith",
    "Ivanova",
    "Garcia",
    "Muller",
    "Rossi",
    "Novak",
    "Silva",
    "Tanaka",
    "Nguyen",
    "Okafor",
    "Larsen",
    "Dubois",
    "Horvat",
    "Petrov",
    "Jensen",
    "Cohen",
    "Ahmed",
    "Berg",
    "Costa",
    "Young",
    "Zhang",
    "Quist",
    "Eriksen",
    "Fischer",
    "Olsen",
    "Weber",
    "Kim",
    "Lopez",
    "Meyer",
    "Ito",
    "Vargas",
]
