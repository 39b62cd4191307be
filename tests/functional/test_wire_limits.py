"""What a connection may take of the server, at the HTTP wire: head sizes, timeouts, the
number of connections, malformed requests, and whose X-Forwarded-For is believed.

Raw sockets against uvicorn on a real port, with small limits so that each test is quick.
"""

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from accord.services.transactions import Database
from tests.functional.api_support import create_token
from tests.support import API_PATH, LiveServer, settings_for

Serve = Callable[..., LiveServer]
REST_PATH = "/api/v1/companies"
UPDATE_NOM = "/rest/catalog-rest/1.0/catalog/updateNom"
PATIENCE = 10.0
"""Seconds a test waits for what should come at once (or after a timeout of a second)."""
ENVELOPE = "application/json; charset=utf-8"
PROBLEM = "application/problem+json"


@pytest.fixture
def serve(db: Database, demo_url: str) -> Iterator[Serve]:
    """Start a server with some settings changed (stopped at the end of the test)."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> LiveServer:
            return stack.enter_context(LiveServer(settings_for(demo_url, **overrides), db))

        yield start


@pytest.fixture
def sockets() -> Iterator[Callable[[LiveServer], socket.socket]]:
    """Open raw connections to a server (closed at the end of the test)."""
    opened: list[socket.socket] = []

    def connect(server: LiveServer) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
        opened.append(sock)
        return sock

    yield connect
    for sock in opened:
        sock.close()


def read_all(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (a reset ends it too)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def reply(raw: bytes) -> tuple[int, str, Any]:
    """Status, content type and JSON body of the one reply in `raw`."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers["content-type"], json.loads(body)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes `sock` within `seconds` (what it sends before is read)."""
    sock.settimeout(seconds)
    try:
        read_all(sock)
    except TimeoutError:
        return False
    return True


def send_until_cut(sock: socket.socket, head: bytes, total: int) -> int:
    """Send `head` then filler bytes, up to `total` in all, till the server stops it;
    the bytes sent."""
    sent = 0
    chunk = b"a" * 65536
    try:
        sock.sendall(head)
        sent = len(head)
        while sent < total:
            sock.sendall(chunk)
            sent += len(chunk)
    except (ConnectionResetError, BrokenPipeError):
        pass
    return sent


# Defect 5: the size of a request head


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (API_PATH, (200, ENVELOPE, {"success": False, "details": "Request too large"})),
        (UPDATE_NOM, (200, ENVELOPE, {"success": False, "details": "Request too large"})),
        (
            REST_PATH,
            (
                431,
                PROBLEM,
                {
                    "type": "urn:accord:problem:headers_too_large",
                    "title": "Request Header Fields Too Large",
                    "status": 431,
                    "detail": "The request's headers are longer than the 4,096 bytes"
                    " this server reads",
                    "code": "headers_too_large",
                    "instance": REST_PATH,
                },
            ),
        ),
    ],
)
def test_headers_over_the_limit_are_refused_in_the_form_of_their_path_before_they_end(
    serve: Serve, sockets: Callable[[LiveServer], socket.socket], path: str, expected: Any
) -> None:
    server = serve(max_header_bytes=4096)
    sock = sockets(server)
    # A header that has not ended: the server must not wait for its end to refuse it.
    sock.sendall(f"GET {path}?a=1 HTTP/1.1\r\nHost: x\r\nX-Big: ".encode() + b"v" * 5000)
    assert reply(read_all(sock)) == expected


def test_headers_up_to_the_limit_are_read_and_a_byte_more_is_refused(
    serve: Serve, sockets: Callable[[LiveServer], socket.socket]
) -> None:
    server = serve(max_header_bytes=4096)
    # The limit counts the head but its URL, which has its own (65,535 bytes).
    url = f"{API_PATH}?command=getcompanies&padding={'p' * 8000}"
    start = f"GET {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ".encode()
    filler = 4096 - (len(start) - len(url)) - len(b"\r\n\r\n")
    sock = sockets(server)
    sock.sendall(start + b"v" * filler + b"\r\n\r\n")
    assert reply(read_all(sock)) == (200, ENVELOPE, {"success": False, "details": "Wrong API key"})
    sock = sockets(server)
    sock.sendall(start + b"v" * (filler + 1) + b"\r\n\r\n")
    assert reply(read_all(sock)) == (
        200,
        ENVELOPE,
        {"success": False, "details": "Request too large"},
    )


def test_a_complete_20_mb_header_is_refused_without_being_read(
    live_server: LiveServer, sockets: Callable[[LiveServer], socket.socket]
) -> None:
    total = 20 * 1024 * 1024
    sock = sockets(live_server)
    head = f"GET {REST_PATH} HTTP/1.1\r\nHost: x\r\nX-Big: ".encode()
    sent = send_until_cut(sock, head, total)
    # The server closed the connection on reading the first 64 KiB: the rest could not
    # all be sent (what the operating system buffers on the way is less than 20 MB).
    assert sent < total
    raw = read_all(sock)
    assert raw == b"" or reply(raw)[0] == 431


def test_ten_unfinished_5_mb_heads_are_cut_off_early(
    live_server: LiveServer, sockets: Callable[[LiveServer], socket.socket]
) -> None:
    total = 5 * 1024 * 1024
    head = f"GET {API_PATH}?command=getcompanies HTTP/1.1\r\nHost: x\r\nX-Big: ".encode()
    connections = [sockets(live_server) for _ in range(10)]
    cut = [send_until_cut(sock, head, total) < total for sock in connections]
    for sock in connections:
        assert closed_within(sock, PATIENCE)
    # Each was closed while its head still came (a few MB can sit in the socket buffers,
    # so some may have been sent in full before the close reached the client).
    assert any(cut), cut


# Defect 6: idle connections, slow heads, too many connections


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    serve: Serve, sockets: Callable[[LiveServer], socket.socket]
) -> None:
    sock = sockets(serve(header_timeout=0.3))
    assert closed_within(sock, PATIENCE)


def test_a_head_sent_byte_by_byte_must_still_arrive_within_the_header_timeout(
    serve: Serve, sockets: Callable[[LiveServer], socket.socket]
) -> None:
    server = serve(header_timeout=0.5)
    sock = sockets(server)
    head = f"GET {REST_PATH} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode() + b"s" * 1000
    started = time.monotonic()
    try:
        for byte in head:  # a byte every 20 ms: never idle for long, never done
            sock.sendall(bytes([byte]))
            time.sleep(0.02)
            if time.monotonic() - started > PATIENCE:
                break
    except (ConnectionResetError, BrokenPipeError):
        pass
    assert time.monotonic() - started < PATIENCE  # the server closed it on its deadline
    raw = read_all(sock)
    if raw:  # the 408, unless the connection was reset first
        status, content_type, body = reply(raw)
        assert (status, content_type, body["code"]) == (408, PROBLEM, "request_timeout")


def test_a_kept_alive_connection_is_closed_after_the_idle_timeout(
    serve: Serve, sockets: Callable[[LiveServer], socket.socket]
) -> None:
    server = serve(idle_timeout=0.3, header_timeout=30)
    sock = sockets(server)
    sock.sendall(f"GET {API_PATH}?command=getcompanies HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    sock.settimeout(PATIENCE)
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
    # uvicorn's own keep-alive (5 s) is longer than this wait.
    assert closed_within(sock, 3)


def test_past_the_connection_limit_the_idlest_connections_are_closed_first(
    serve: Serve, sockets: Callable[[LiveServer], socket.socket]
) -> None:
    server = serve(max_connections=20, header_timeout=30, idle_timeout=30)
    # A request whose body keeps coming is never idle long: it outlives those that wait.
    busy = sockets(server)
    busy.sendall(
        f"POST {API_PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\n"
        "command=get".encode()  # of "command=getcompanies"
    )
    time.sleep(0.2)  # let the server read its head
    idle = []
    rest = iter(b"companie")
    for n in range(50):
        idle.append(sockets(server))
        time.sleep(0.005)  # each its own moment of arrival
        if n % 6 == 5:
            busy.sendall(bytes([next(rest)]))
    with server.client() as client:
        answered = client.get(API_PATH, params={"command": "getcompanies"})
    assert answered.status_code == 200
    assert all(closed_within(sock, PATIENCE) for sock in idle[:30])
    assert not any(closed_within(sock, 0.05) for sock in idle[-10:])
    busy.sendall(b"s")
    status, content_type, body = reply(read_all(busy))
    assert (status, content_type) == (200, ENVELOPE)
    assert body == {"success": False, "details": "Wrong API key"}


# Defect 12: requests the parser refuses


BAD_URL = (
    "Invalid request: the URL holds a byte that must be percent-encoded"
    " (a control character, or a byte over 127: write UTF-8 text as %XX escapes)"
)
MALFORMED = "Invalid request: the request line or a header is not well-formed HTTP/1.1"
BAD_METHOD = "Invalid request: the method is not an HTTP method"


@pytest.mark.parametrize(
    ("request_line", "extra", "message"),
    [
        (b"GET " + API_PATH.encode() + b"?command=getcompanies&x=\xff HTTP/1.1", b"", BAD_URL),
        (b"GET " + API_PATH.encode() + b"?command=\x00 HTTP/1.1", b"", BAD_URL),
        (b"GET " + UPDATE_NOM.encode() + b"?nomId=\xff HTTP/1.1", b"", BAD_URL),
        (b"GET " + API_PATH.encode() + b" HTTP/1.1", b"X-Bad: a\x00b\r\n", MALFORMED),
        (b"GET " + API_PATH.encode() + b" HTTP/7.1", b"", MALFORMED),
        (b"G\x00T " + API_PATH.encode() + b" HTTP/1.1", b"", BAD_METHOD),
    ],
    ids=["0xFF", "NUL", "updateNom", "NUL in a header", "version", "method"],
)
def test_a_request_the_parser_refuses_on_a_legacy_path_gets_the_envelope(
    live_server: LiveServer,
    sockets: Callable[[LiveServer], socket.socket],
    request_line: bytes,
    extra: bytes,
    message: str,
) -> None:
    sock = sockets(live_server)
    sock.sendall(request_line + b"\r\nHost: x\r\n" + extra + b"\r\n")
    assert reply(read_all(sock)) == (200, ENVELOPE, {"success": False, "details": message})


@pytest.mark.parametrize(
    ("request_line", "extra", "message"),
    [
        (b"GET /api/v1/companies?q=\xff HTTP/1.1", b"", BAD_URL),
        (b"GET /api/v1/compa\x00nies HTTP/1.1", b"", BAD_URL),
        (b"GET /api/v1/companies HTTP/1.1", b"X-Bad: a\x00b\r\n", MALFORMED),
    ],
    ids=["0xFF", "NUL", "NUL in a header"],
)
def test_a_request_the_parser_refuses_elsewhere_gets_a_400_problem(
    live_server: LiveServer,
    sockets: Callable[[LiveServer], socket.socket],
    request_line: bytes,
    extra: bytes,
    message: str,
) -> None:
    sock = sockets(live_server)
    sock.sendall(request_line + b"\r\nHost: x\r\n" + extra + b"\r\n")
    status, content_type, body = reply(read_all(sock))
    assert (status, content_type) == (400, PROBLEM)
    assert (body["code"], body["detail"]) == ("bad_request", message)


# Defect 10: X-Forwarded-For is believed only from a configured proxy


def _statuses(server: LiveServer) -> list[int]:
    """Three requests without a token, each naming another client in X-Forwarded-For."""
    with server.client() as client:
        return [
            client.get("/api/v1/me", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(3)
        ]


def test_x_forwarded_for_names_the_client_only_from_a_configured_proxy(serve: Serve) -> None:
    # By default all three count against 127.0.0.1, whose bucket holds two.
    assert _statuses(serve(api_rate_limit=1, api_rate_burst=2)) == [401, 401, 429]
    server = serve(api_rate_limit=1, api_rate_burst=2, trusted_proxies=("127.0.0.1",))
    assert _statuses(server) == [401, 401, 401]


# Issue 12, defect 6's class: a request body that stops coming


def _settled(server: LiveServer) -> bool:
    """Whether the app is soon working on no request (uvicorn keeps a task for each)."""
    deadline = time.monotonic() + PATIENCE
    while server.server.server_state.tasks and time.monotonic() < deadline:
        time.sleep(0.02)
    return not server.server.server_state.tasks


def _post_head(path: str, length: int, extra: str = "") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n{extra}\r\n".encode()


@pytest.mark.parametrize("path", [API_PATH, UPDATE_NOM, REST_PATH])
def test_a_body_that_stops_coming_gets_a_408_in_the_form_of_its_path_and_is_dropped(
    serve: Serve,
    sockets: Callable[[LiveServer], socket.socket],
    db: Database,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    server = serve(header_timeout=0.5)
    if path == REST_PATH:  # past the token check, which comes before the body
        extra = f"Authorization: Bearer {create_token(db)}\r\nContent-Type: application/json\r\n"
    else:
        extra = "Content-Type: application/x-www-form-urlencoded\r\n"
    sock = sockets(server)
    # 10 of the 1000 bytes announced, then nothing: read_all fails if the server waits on.
    sock.sendall(_post_head(path, 1000, extra) + b'{"name": "'[:10])
    started = time.monotonic()
    status, content_type, body = reply(read_all(sock))
    assert time.monotonic() - started < PATIENCE
    if path == REST_PATH:
        assert (status, content_type) == (408, PROBLEM)
        assert body == {
            "type": "urn:accord:problem:request_timeout",
            "title": "Request Timeout",
            "status": 408,
            "detail": "No part of the request's body arrived for 0.5 seconds",
            "code": "request_timeout",
            "instance": REST_PATH,
        }
    else:
        assert (status, content_type) == (200, ENVELOPE)
        assert body == {"success": False, "details": "Request timeout"}
    # The app was told (`http.disconnect`): it stopped waiting for the body, quietly.
    assert _settled(server)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_the_body_timeout_runs_between_parts_not_over_the_whole_body(
    serve: Serve, sockets: Callable[[LiveServer], socket.socket]
) -> None:
    server = serve(header_timeout=1)
    form = "Content-Type: application/x-www-form-urlencoded\r\n"
    body = b"command=getcompanies&apiKey=wrong"
    # A part every 0.1 s: the body takes about three times the timeout, and is read.
    trickled = sockets(server)
    trickled.sendall(_post_head(API_PATH, len(body), form))
    started = time.monotonic()
    for byte in body:
        time.sleep(0.1)
        trickled.sendall(bytes([byte]))
    assert time.monotonic() - started > 3
    trickled.settimeout(PATIENCE)
    assert reply(trickled.recv(65536)) == (
        200,
        ENVELOPE,
        {"success": False, "details": "Wrong API key"},
    )
    # A pause as long as the timeout is not.
    paused = sockets(server)
    paused.sendall(_post_head(API_PATH, len(body), form) + body[:10])
    assert reply(read_all(paused)) == (
        200,
        ENVELOPE,
        {"success": False, "details": "Request timeout"},
    )


def test_a_connection_whose_body_stopped_coming_is_closed_first_at_the_connection_limit(
    serve: Serve, sockets: Callable[[LiveServer], socket.socket]
) -> None:
    server = serve(max_connections=20, header_timeout=30, idle_timeout=30)
    stalled = sockets(server)
    stalled.sendall(
        _post_head(API_PATH, 20, "Content-Type: application/x-www-form-urlencoded\r\n")
        + b"command=get"  # of "command=getcompanies", and no more
    )
    time.sleep(0.2)  # let the server read it
    fresh = []
    for _ in range(30):
        fresh.append(sockets(server))
        time.sleep(0.005)  # each its own moment of arrival
    # 31 connections for 20: the 11 idle longest are closed, the stalled body first.
    assert closed_within(stalled, PATIENCE)
    assert all(closed_within(sock, PATIENCE) for sock in fresh[:10])
    assert not any(closed_within(sock, 0.05) for sock in fresh[-10:])
    assert _settled(server)


def _read_reply(sock: socket.socket) -> bytes:
    """One reply with a Content-Length, the connection left open."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return received


def test_on_a_kept_alive_connection_each_body_has_the_timeout_but_not_the_wait_between(
    serve: Serve, sockets: Callable[[LiveServer], socket.socket]
) -> None:
    server = serve(header_timeout=0.5, idle_timeout=30)
    form = "Content-Type: application/x-www-form-urlencoded\r\n"
    body = b"command=getcompanies&apiKey=wrong"
    sock = sockets(server)
    sock.sendall(_post_head(API_PATH, len(body), form))
    time.sleep(0.1)
    sock.sendall(body)
    wrong_key = (200, ENVELOPE, {"success": False, "details": "Wrong API key"})
    assert reply(_read_reply(sock)) == wrong_key
    time.sleep(1)  # kept alive: the idle timeout's to end, not the header timeout's
    sock.sendall(_post_head(API_PATH, len(body), form) + body)
    assert reply(_read_reply(sock)) == wrong_key
    sock.sendall(_post_head(API_PATH, 1000, form) + body[:10])
    assert reply(read_all(sock)) == (
        200,
        ENVELOPE,
        {"success": False, "details": "Request timeout"},
    )
