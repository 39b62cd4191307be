"""A server's memory stays where it was under hostile requests of every kind.

The real `accord serve`, in a process of its own, is sent many requests of each kind an
attacker or a careless client sends (bodies of hundreds of megabytes announced without a
token or past the cap, heads that never end, idle sockets, searches with hundreds of
conditions in ever new shapes, numbers of thousands of digits, bytes that are no text,
wrong credentials); afterwards its resident memory is within `GROWTH_BOUND` of what it
was after a few ordinary requests, it still answers, and it logged no traceback.
"""

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from accord.services.transactions import Database
from tests.functional.api_support import create_token
from tests.functional.test_concurrency import ServerProcess
from tests.support import API_PATH, KEY

pytestmark = pytest.mark.slow

GROWTH_BOUND = 50 * 1024 * 1024
ROUNDS = 100
"""Requests of each kind (ten kinds: 1,000 hostile requests in all)."""

Attack = Callable[[int], None]


def rss(pid: int) -> int:
    """The resident memory of process `pid`, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")  # pragma: no cover


@pytest.fixture
def served(demo_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(demo_url, tmp_path, "hostile") as server:
        server.wait_until_listening()
        yield server
    assert "Traceback" not in server.output(), server.output()[-5000:]


def raw(port: int, data: bytes, *, read: bool = True) -> bytes:
    """Send `data` on a new connection; the reply's head and body, once complete (or what
    came before the server closed, or 2 s passed: a server that waits for the rest of
    what was announced before it answers has failed already)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        try:
            sock.sendall(data)
        except OSError:
            return b""  # the server closed first: what it should do to a flood
        if not read:
            return b""
        reply = b""
        try:
            while not _complete(reply) and (chunk := sock.recv(65536)):
                reply += chunk
        except OSError:
            pass
        return reply


def _complete(reply: bytes) -> bool:
    """Whether `reply` holds a whole HTTP response (a head and a Content-Length body)."""
    head, found, body = reply.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def legacy_query(command: str, pairs: int, *, offset: int = 0) -> str:
    parts = [f"command={command}", f"apiKey={KEY}", "userName=admin", "tableName=CLIENTS"]
    for n in range(1, pairs + 1):
        parts += [f"crm_param_{n}=Name", f"crm_param_{n}_value=x{n + offset}"]
    return "&".join(parts)


class Attacker:
    """Hostile requests of each kind to one server, the n-th of a kind made distinct by n."""

    def __init__(self, server: ServerProcess, token: str) -> None:
        self.port = server.port
        self.token = token
        self.http = httpx.Client(base_url=server.url, timeout=60)
        self.sockets: list[socket.socket] = []
        self.search = (
            "POST /api/v1/companies/search HTTP/1.1\r\nhost: x\r\n"
            "content-type: application/json\r\n"
        )

    def kinds(self) -> dict[str, Attack]:
        return {
            name: getattr(self, name)
            for name in (
                "unauthenticated_body",
                "body_past_the_cap",
                "head_that_never_ends",
                "idle_socket",
                "many_conditions",
                "new_shape",
                "huge_number",
                "not_text",
                "wrong_credentials",
                "malformed_pairs",
            )
        }

    def unauthenticated_body(self, _: int) -> None:
        announce = f"{self.search}content-length: 300000000\r\n\r\n"
        raw(self.port, announce.encode() + b"{" * 1_000_000)

    def body_past_the_cap(self, _: int) -> None:
        bearer = f"authorization: Bearer {self.token}\r\n"
        announce = f"{self.search}{bearer}content-length: 300000000\r\n\r\n"
        raw(self.port, announce.encode() + b"[" * 1_000_000)

    def head_that_never_ends(self, _: int) -> None:
        raw(self.port, b"GET / HTTP/1.1\r\nx-filler: " + b"a" * 2_000_000, read=False)

    def idle_socket(self, _: int) -> None:
        self.sockets.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))

    def many_conditions(self, n: int) -> None:
        self.http.get(f"{API_PATH}?{legacy_query('searchEntities', 300, offset=n)}")

    def new_shape(self, n: int) -> None:
        self.http.get(f"{API_PATH}?{legacy_query('searchEntities', 700 + n)}")

    def huge_number(self, n: int) -> None:
        digits = "9" * (5000 + n)
        self.http.get(f"/api/v1/companies/{digits}", headers=self.bearer())
        self.http.get(
            f"{API_PATH}?command=getcompanybyname&companyId={digits}&apiKey={KEY}&userName=admin"
        )

    def not_text(self, _: int) -> None:
        line = f"GET {API_PATH}?command=\xff\x00 HTTP/1.1\r\nhost: x\r\n\r\n"
        raw(self.port, line.encode("latin-1"))
        self.http.get("/api/v1/companies?q=%FF", headers=self.bearer())

    def wrong_credentials(self, n: int) -> None:
        self.http.get(f"{API_PATH}?command=getcompanies&apiKey=wrong{n}&userName=admin")
        self.http.get("/api/v1/companies", headers={"authorization": f"Bearer invented{n}"})

    def malformed_pairs(self, n: int) -> None:
        query = f"command=searchEntities&apiKey={KEY}&userName=admin&tableName=CLIENTS"
        self.http.get(f"{API_PATH}?{query}&crm_param_+{n}=Name&crm_param_+{n}_value=x")

    def bearer(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def close(self) -> None:
        self.http.close()
        for sock in self.sockets:
            sock.close()


def test_hostile_requests_of_every_kind_leave_the_memory_where_it_was(
    served: ServerProcess, db: Database
) -> None:
    token = create_token(db)
    with httpx.Client(base_url=served.url, timeout=30) as http:
        for _ in range(20):  # what ordinary use makes the process load and cache
            assert http.get(f"{API_PATH}?command=getcompanies&apiKey={KEY}&userName=admin")
            http.get("/api/v1/companies", headers={"authorization": f"Bearer {token}"})
        before = rss(served.process.pid)
        attacker = Attacker(served, token)
        try:
            for kind, attack in attacker.kinds().items():
                for n in range(ROUNDS):
                    attack(n)
                grown = rss(served.process.pid) - before
                print(f"{kind}: {grown / 2**20:+.1f} MiB")  # -s shows the figures
        finally:
            attacker.close()
        after = rss(served.process.pid)
        reply = http.get(f"{API_PATH}?command=getcompanies&apiKey={KEY}&userName=admin")
        assert reply.json()["success"] is True
    assert after - before < GROWTH_BOUND, f"grew by {(after - before) / 2**20:.0f} MiB"
