"""Two limits on the REST API, in this process: a rate limit (a token bucket per caller),
and the throttle of failed authentications (`AuthFailureLimit`, at the end).

Each bearer token has a bucket of `burst` requests that refills at `per_minute`; a
request takes one, and a caller whose bucket is empty gets 429 with `Retry-After`.
Every limited reply carries the limit as `RateLimit-Limit`, `RateLimit-Remaining`,
`RateLimit-Reset` and `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers-07).

The key of a bucket is a SHA-256 of the Authorization header (the token itself is never
kept). A token gets its own bucket only once the API has answered it with a success
(2xx or 304: every such reply checked the token; a redirect did not), and loses it on
a 401; until then, like requests without a token, it draws on the bucket of the client
address, so inventing tokens does not escape the limit.

The buckets live in the process (`TokenBuckets`), or, when `accord serve --workers N`
runs several processes, in memory the supervisor shares with them all
(`SharedBuckets`): a limit of N a minute is N a minute across the workers. Several
servers behind a load balancer still limit each on its own.
"""

import hashlib
import math
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.api.problems import problem
from accord.services.shared_memory import SharedTable, digest
from accord.services.throttle import FailureThrottle, address_key

MAX_KEYS = 100_000
"""Buckets and accepted tokens kept; past this the least recently used are forgotten."""


@dataclass(slots=True)
class Bucket:
    tokens: float
    at: float


@dataclass(frozen=True, slots=True)
class Decision:
    """What the bucket said about one request."""

    allowed: bool
    remaining: int
    reset: int
    """Seconds until the bucket is full again."""
    retry_after: int
    """Seconds until the next request would be allowed (0: now)."""


class Buckets(Protocol):
    burst: int
    per_second: float

    def take(self, key: str) -> Decision:
        """Take a token from `key`'s bucket if it has one; what the bucket says then."""
        ...


def _decision(tokens: float, allowed: bool, burst: int, per_second: float) -> Decision:
    """What a bucket holding `tokens` (after the request's was taken, if `allowed`) says."""
    return Decision(
        allowed=allowed,
        remaining=math.floor(tokens),
        reset=math.ceil((burst - tokens) / per_second),
        retry_after=0 if allowed else max(1, math.ceil((1 - tokens) / per_second)),
    )


class TokenBuckets:
    """Buckets of `burst` tokens refilled at `per_minute`, by key, least recently used first."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float]) -> None:
        self.burst = burst
        self.per_second = per_minute / 60
        self.clock = clock
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, key: str) -> Decision:
        now = self.clock()
        bucket = self._refilled(key, now)
        allowed = bucket.tokens >= 1
        if allowed:
            bucket.tokens -= 1
        return _decision(bucket.tokens, allowed, self.burst, self.per_second)

    def _refilled(self, key: str, now: float) -> Bucket:
        bucket = self.buckets.get(key)
        if bucket is None:
            self._forget_idle(now)
            bucket = self.buckets[key] = Bucket(self.burst, now)
            return bucket
        self.buckets.move_to_end(key)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.per_second)
        bucket.at = now
        return bucket

    def _forget_idle(self, now: float) -> None:
        """Drop the oldest buckets that are full again (a new one is the same), and any
        beyond MAX_KEYS, so that many callers cannot fill the memory."""
        full_after = self.burst / self.per_second
        while self.buckets:
            key, oldest = next(iter(self.buckets.items()))
            if now - oldest.at < full_after and len(self.buckets) < MAX_KEYS:
                return
            del self.buckets[key]


SHARED_SLOTS = 1 << 16
"""Buckets `SharedBuckets` holds (24 bytes each: 1.5 MiB)."""
_BUCKET = struct.Struct("<Qdd")
"""A shared bucket: its key's digest (0: a free slot), its tokens, when they were counted."""


class SharedBuckets:
    """Buckets of `burst` tokens refilled at `per_minute`, by key, in memory shared with
    every process forked after it was made (`shared_memory`): a limit of N a minute is N
    in all of them. A key without a bucket takes a free slot, or one whose bucket is full
    again (the same as a new one), or the longest idle. `time.monotonic` is the system's
    monotonic clock, the same in every process."""

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        slots: int = SHARED_SLOTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.per_second = per_minute / 60
        self.clock = clock
        self.table = SharedTable(_BUCKET, slots)

    def close(self) -> None:
        self.table.close()

    def take(self, key: str) -> Decision:
        held_by = digest(key)
        with self.table:
            now = self.clock()
            full_after = self.burst / self.per_second
            offset, found = self.table.find(
                held_by, lambda slot: -math.inf if now - slot[2] >= full_after else slot[2]
            )
            tokens = float(self.burst)
            if found is not None:
                tokens = min(self.burst, found[1] + (now - found[2]) * self.per_second)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self.table.write(offset, held_by, tokens, now)
        return _decision(tokens, allowed, self.burst, self.per_second)


class RateLimit:
    """ASGI middleware: the limit on every path under `prefix` except the `exempt` ones."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_minute: int,
        burst: int,
        prefix: str,
        exempt: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
        buckets: Buckets | None = None,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.exempt = tuple(exempt)
        self.buckets = buckets or TokenBuckets(per_minute, burst or per_minute, clock)
        self.policy = f"{self.buckets.burst};w={math.ceil(self.buckets.burst * 60 / per_minute)}"
        self.accepted: OrderedDict[str, None] = OrderedDict()
        """Keys of the tokens the API accepted lately."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._limits(scope["path"]):
            await self.app(scope, receive, send)
            return
        token = _token_key(scope)
        key = token if token is not None and token in self.accepted else _address_key(scope)
        decision = self.buckets.take(key)
        headers = self._headers(decision)
        if not decision.allowed:
            detail = f"Too many requests; retry in {decision.retry_after} s"
            headers["Retry-After"] = str(decision.retry_after)
            reply = problem(429, "rate_limited", detail, instance=scope["path"], headers=headers)
            await reply(scope, receive, send)
            return
        raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                if token is not None:
                    self._remember(token, message["status"])
                message = {**message, "headers": [*message.get("headers", []), *raw]}
            await send(message)

        await self.app(scope, receive, sending)

    def _limits(self, path: str) -> bool:
        if not _under(path, self.prefix):
            return False
        return not any(_under(path, exempt) for exempt in self.exempt)

    def _headers(self, decision: Decision) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.buckets.burst),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(decision.reset),
            "RateLimit-Policy": self.policy,
        }

    def _remember(self, token: str, status: int) -> None:
        if status == 401:
            self.accepted.pop(token, None)
        if not (200 <= status < 300 or status == 304):
            return
        self.accepted[token] = None
        self.accepted.move_to_end(token)
        if len(self.accepted) > MAX_KEYS:
            self.accepted.popitem(last=False)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _token_key(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return "token:" + hashlib.sha256(value).hexdigest()
    return None


def _address_key(scope: Scope) -> str:
    return address_key(scope.get("client"))


class AuthFailureLimit:
    """ASGI middleware: the throttle of failed authentications, on every path under `prefix`
    except the `exempt` ones.

    A 401 to a request that sent an Authorization header counts against its client
    address (a request without one guessed nothing). An address whose failures reached
    the limit gets 429 `too_many_failures` with `Retry-After`, before its token is looked
    at, unless its token is one this process answered with a success (2xx or 304) since
    it last failed: tokens are 256 random bits, so no one finds a valid one by guessing,
    and a valid token is never held up by invented ones sent from the same address.
    """

    def __init__(
        self, app: ASGIApp, *, throttle: FailureThrottle, prefix: str, exempt: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.throttle = throttle
        self.prefix = prefix.rstrip("/")
        self.exempt = frozenset(exempt)
        self.exempt_under = tuple(path.rstrip("/") + "/" for path in exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._limits(scope["path"]):
            await self.app(scope, receive, send)
            return
        # The token's digest on every call: the throttle never keeps a token itself.
        address, token = address_key(scope.get("client")), _token_key(scope)
        wait = self.throttle.locked(address)
        if wait and not (token is not None and self.throttle.is_vouched(token)):
            detail = f"Too many failed authentications from this address; retry in {wait} s"
            headers = {"Retry-After": str(wait)}
            reply = problem(
                429, "too_many_failures", detail, instance=scope["path"], headers=headers
            )
            await reply(scope, receive, send)
            return
        if token is None:
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._count(address, token, message["status"])
            await send(message)

        await self.app(scope, receive, sending)

    def _limits(self, path: str) -> bool:
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            return False
        return path not in self.exempt and not path.startswith(self.exempt_under)

    def _count(self, address: str, token: str, status: int) -> None:
        if status == 401:
            self.throttle.fail(address)
            self.throttle.disown(token)
        elif (200 <= status < 300 or status == 304) and token not in self.throttle.vouched:
            self.throttle.vouch(token)
