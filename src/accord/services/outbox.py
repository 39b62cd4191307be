"""Writes to Jira through an outbox: queued in the transaction of the CRM change that
causes them, delivered after it commits by the job worker.

A rolled-back change leaves no row. Delivery is at least once (a worker that dies while
delivering leaves its rows to be claimed again), in order per issue, with a growing wait
after each failure (at least what Jira asked for with `Retry-After`); what Jira is sent
is idempotent, as a remote link is named by its `globalId`. Rows are queued only while
Jira is connected.
"""

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from accord.domain.errors import AccordError, JiraUnavailable
from accord.services.jira import JiraGateway
from accord.services.transactions import now
from accord.store import issues as issue_store
from accord.store import jira as jira_store
from accord.store import outbox as store
from accord.store.database import Transaction
from accord.store.issues import LinkedEntry
from accord.store.outbox import Backlog as Backlog  # what status shows
from accord.store.outbox import NewRow, OutboxRow

_log = logging.getLogger(__name__)
REMOTE_LINK = "remote-link"
"""Put (or update) the entry's remote link on the issue; payload: its title."""
REMOTE_UNLINK = "remote-unlink"
"""Remove the entry's remote link from the issue."""
MAX_TITLE_LENGTH = 255
KEEP_DELIVERED = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    batch: int = 100
    """Rows a worker claims at a time."""
    hold: timedelta = timedelta(minutes=5)
    """How long claimed rows are the worker's; it starts no delivery past half of it."""
    first_backoff: float = 5.0
    """Seconds before the second try of a row that failed; doubled each time."""
    max_backoff: float = 900.0


DEFAULT_POLICY = OutboxPolicy()
NO_BACKLOG = Backlog(0, None, "", None)


def global_id(directory_code: str, entry_id: int) -> str:
    """What names an entry's remote link on an issue, in Jira."""
    return f"accord:{directory_code}:{entry_id}"


def entry_path(directory_code: str, entry_id: int) -> str:
    """The entry's card in Accord's web UI, under the public base URL."""
    return f"/d/{directory_code}/{entry_id}"


# Queued by the services that change links and entries


def linked_entries(tx: Transaction, issue_key: str) -> Mapping[int, LinkedEntry]:
    """The entries an issue links to now (to compare with after a change of its links)."""
    return issue_store.entries_of_issue(tx.connection, issue_key)


def links_changed(tx: Transaction, issue_key: str, before: Mapping[int, LinkedEntry]) -> None:
    """Queue the remote links an issue gained and lost since `before` (`linked_entries`)."""
    after = linked_entries(tx, issue_key)
    added = [link for pk, link in after.items() if pk not in before]
    removed = [link for pk, link in before.items() if pk not in after]
    _queue(tx, [*(_put(link) for link in added), *(_remove(link) for link in removed)])


def entries_renamed(tx: Transaction, entry_rows: Sequence[int]) -> None:
    """Queue the new titles of renamed entries' remote links (after the rename is written)."""
    if entry_rows and jira_store.connected(tx.connection):
        _queue(
            tx, [_put(link) for link in issue_store.issues_of_entries(tx.connection, entry_rows)]
        )


def entry_deleted(tx: Transaction, entry_row: int) -> None:
    """Queue the removal of a doomed entry's remote links (before it is deleted)."""
    if jira_store.connected(tx.connection):
        _queue(
            tx,
            [_remove(link) for link in issue_store.issues_of_entries(tx.connection, [entry_row])],
        )


def _put(link: LinkedEntry) -> NewRow:
    title = link.name.strip() or f"{link.directory_code} {link.entry_id}"
    payload = {"title": title[:MAX_TITLE_LENGTH]}
    return NewRow(REMOTE_LINK, link.issue_key, link.directory_code, link.entry_id, payload)


def _remove(link: LinkedEntry) -> NewRow:
    return NewRow(REMOTE_UNLINK, link.issue_key, link.directory_code, link.entry_id, {})


def _queue(tx: Transaction, rows: Sequence[NewRow]) -> None:
    if rows and jira_store.connected(tx.connection):
        store.add(tx.connection, rows, at=now())


# Delivered by the job worker


@dataclass(slots=True)
class Delivery:
    """What one worker's delivery of a claimed batch came to."""

    delivered: list[int] = field(default_factory=list)
    failed: list[tuple[OutboxRow, str, float]] = field(default_factory=list)
    """The row that failed (one at most), why, and the seconds Jira asked to wait (0: none)."""
    released: list[int] = field(default_factory=list)
    """Rows not tried: after a failure, or past the claim's deadline."""


def has_due(tx: Transaction) -> bool:
    """Whether a worker might find rows to deliver (a read)."""
    return store.has_due(tx.connection, at=now())


def claim(tx: Transaction, policy: OutboxPolicy) -> list[OutboxRow]:
    """Claim a batch of due rows, oldest first, of issues with nothing in flight or failed."""
    return store.claim(tx.connection, at=now(), hold=policy.hold, limit=policy.batch)


def deliver(
    rows: Iterable[OutboxRow], jira: JiraGateway, *, public_url: str, deadline: float
) -> Delivery:
    """Send claimed rows to Jira in order, outside any transaction. After a row fails, or
    past `deadline` (monotonic), the rest are given back untried: a Jira that is down
    costs one failed write a round, not one per issue."""
    done = Delivery()
    for row in rows:
        if done.failed or time.monotonic() > deadline:
            done.released.append(row.id)
            continue
        try:
            _send(row, jira, public_url)
        except AccordError as error:
            wait = error.retry_after if isinstance(error, JiraUnavailable) else 0.0
            done.failed.append((row, error.message, wait))
        except Exception as error:  # a bug, not Jira: kept and retried like a failure
            _log.exception("delivering outbox row %s failed", row.id)
            done.failed.append((row, f"Internal error: {type(error).__name__}", 0.0))
        else:
            done.delivered.append(row.id)
    return done


def _send(row: OutboxRow, jira: JiraGateway, public_url: str) -> None:
    gid = global_id(row.directory_code, row.entry_id)
    if row.kind == REMOTE_LINK:
        url = public_url.rstrip("/") + entry_path(row.directory_code, row.entry_id)
        jira.put_remote_link(row.issue_key, gid, str(row.payload.get("title", "")), url)
    elif row.kind == REMOTE_UNLINK:
        jira.delete_remote_link(row.issue_key, gid)
    else:
        raise ValueError(f"Unknown outbox row kind: {row.kind}")


def record(tx: Transaction, delivery: Delivery, policy: OutboxPolicy) -> None:
    """Write down what a delivery came to: rows delivered, failed (retried after a growing
    wait) and given back untried."""
    at = now()
    store.delivered(tx.connection, delivery.delivered, at=at)
    for row, error, asked in delivery.failed:
        wait = max(asked, _backoff(row.attempts, policy))
        retry_at = at + timedelta(seconds=wait)
        store.failed(tx.connection, row.id, error=error[:2000], at=at, retry_at=retry_at)
    store.release(tx.connection, delivery.released, at=at)


def _backoff(attempts: int, policy: OutboxPolicy) -> float:
    return float(min(policy.max_backoff, policy.first_backoff * 2 ** max(0, attempts - 1)))


def backlog(tx: Transaction) -> Backlog:
    """How many writes wait for Jira, the oldest's age, and the newest failure."""
    return store.backlog(tx.connection)


def forget_delivered(tx: Transaction, *, before: datetime | None = None) -> int:
    """Drop rows delivered over a day ago (or before `before`); how many."""
    return store.forget_delivered(tx.connection, before=before or now() - KEEP_DELIVERED)
