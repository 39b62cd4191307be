"""A small, well-behaved client of Jira's REST API over httpx.

Timeouts on every request; 429 and 503 are retried after `Retry-After` (seconds or an
HTTP date) or an exponential backoff, within a bounded total wait; a dropped connection
or a timeout is retried the same way for requests that may be repeated. Every failure is
one clear line (`JiraUnavailable`, `JiraRefused`).
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from accord.domain.errors import AccordError, JiraRefused, JiraUnavailable

RETRIED_STATUSES = frozenset({429, 503})
REPEATABLE = frozenset({"GET", "PUT", "DELETE", "HEAD"})
MAX_URL_LENGTH = 2000


class InvalidJiraAddress(AccordError):
    """What was given as Jira's address cannot be one (a bad request, not Jira's fault)."""

    code = "invalid_jira_address"


class JiraNotFound(JiraUnavailable):
    """Jira has no such resource (404): an unknown path, issue or user."""

    code = "jira_not_found"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    """Tries of one request in all (the first and its retries)."""
    max_wait: float = 60.0
    """Seconds one request may spend waiting between tries, in all."""
    first_delay: float = 0.5
    """Backoff before the second try when Jira gives no Retry-After; doubled each time."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_RETRY = RetryPolicy()


def checked_url(url: str) -> str:
    """A Jira base URL as given (without a trailing slash), or JiraUnavailable saying why
    it cannot be one."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if len(url) > MAX_URL_LENGTH or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidJiraAddress(
            f"Not a Jira address: {url[:200]!r} (give http(s)://host[:port][/context])"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidJiraAddress(
            "A Jira address holds no query, fragment or user: give the base URL"
        )
    return url


class JiraClient:
    """Requests to one Jira instance with one credential; counts the requests it sends."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = checked_url(base_url)
        self.retry = retry
        self.requests = 0
        self._sleep = sleep
        timeout = httpx.Timeout(timeouts.read, connect=timeouts.connect)
        self._http = httpx.Client(
            headers={"Accept": "application/json", **headers},
            timeout=timeout,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "JiraClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(self, path: str, params: Mapping[str, str | int | bool] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | bool] | None = None,
        json: Any = None,
    ) -> Any:
        """The JSON Jira answers (None for an empty reply), after retries."""
        url = self.base_url + path
        query = {
            k: ("true" if v is True else "false" if v is False else v)
            for k, v in (params or {}).items()
        }
        waited = 0.0
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                self.requests += 1
                response = self._http.request(method, url, params=query, json=json)
            except httpx.TimeoutException:
                if last or method not in REPEATABLE:
                    raise JiraUnavailable(
                        f"Jira at {self.base_url} did not answer {method} {path} in time"
                    ) from None
                waited = self._wait(self._backoff(attempt), waited, f"{method} {path} timed out")
                continue
            except httpx.TransportError as error:
                connected = not isinstance(error, httpx.ConnectError)
                if last or (connected and method not in REPEATABLE):
                    raise JiraUnavailable(
                        f"Jira at {self.base_url} cannot be reached: {_reason(error)}"
                    ) from None
                waited = self._wait(self._backoff(attempt), waited, _reason(error))
                continue
            if response.status_code in RETRIED_STATUSES and not last:
                delay = _retry_after(response) or self._backoff(attempt)
                why = f"Jira answered {response.status_code} to {method} {path}"
                waited = self._wait(delay, waited, why)
                continue
            return self._reply(method, path, response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        return float(self.retry.first_delay * 2 ** (attempt - 1))

    def _wait(self, delay: float, waited: float, why: str) -> float:
        """Sleep `delay` if the total wait stays within the policy's bound, else give up."""
        if waited + delay > self.retry.max_wait:
            error = JiraUnavailable(
                f"{why}; retrying would wait {waited + delay:.0f} s in all, over the "
                f"{self.retry.max_wait:.0f} s allowed"
            )
            error.retry_after = delay
            raise error
        self._sleep(delay)
        return waited + delay

    def _reply(self, method: str, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 401:
            raise JiraRefused(
                "Jira refused the credential (401 Unauthorized): check the token, "
                "the user and password, or the e-mail and API token"
            )
        if status == 403:
            raise JiraRefused(f"Jira denied the account access to {path} (403 Forbidden)")
        if status == 404:
            raise JiraNotFound(
                f"Jira at {self.base_url} has no {path} (404): is it the address of a Jira?"
            )
        if status >= 300:
            error = JiraUnavailable(f"Jira answered {status} to {method} {path}")
            if status in RETRIED_STATUSES:
                error.retry_after = _retry_after(response) or 0.0
            raise error
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise JiraUnavailable(
                f"{self.base_url} answered {method} {path} with something else than JSON: "
                "is it the address of a Jira?"
            ) from None


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (a number or an HTTP date), or None if absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _reason(error: httpx.TransportError) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]
