"""The user sync job and per-issue CRM properties, on a real database."""

import threading
from collections.abc import Iterable
from datetime import timedelta

import pytest

from accord.domain.errors import EntryNotFound, InvalidParameter, PermissionDenied
from accord.domain.rights import GlobalRight, Rights
from accord.domain.users import Actor, User
from accord.jobs.worker import JobWorker
from accord.services import issues, sync, users
from accord.services.jira import JiraUser
from accord.services.transactions import Database, Transaction, now, run
from accord.store import tokens as token_store

ADMIN = Actor.system("legacy")


class TwoJiraUsers:
    """The JiraGateway seam, answered in-process: what a connected Jira would return."""

    def users(self, progress: object = None) -> Iterable[JiraUser]:
        return [
            JiraUser("JIRAUSER1", "viewer", "Vera Viewer", "vera@example.org", True),
            JiraUser("JIRAUSER2", "newcomer", "New Comer", "new@example.org", False),
        ]

    def set_issue_property(self, issue_key: str, field_key: str, value: str) -> None:
        raise AssertionError("not used here")


def test_a_sync_request_joins_the_one_already_waiting(db: Database) -> None:
    first = run(db, lambda tx: sync.request_user_sync(tx, actor=ADMIN), write=True)
    second = run(db, lambda tx: sync.request_user_sync(tx, actor=ADMIN), write=True)
    assert first == second
    assert [j.status for j in run(db, sync.user_sync_jobs, write=False)] == ["queued"]


def test_without_jira_the_sync_job_fails_and_says_why(db: Database) -> None:
    run(db, lambda tx: sync.request_user_sync(tx, actor=ADMIN), write=True)
    assert JobWorker(db, jira=None).run_once()
    assert not JobWorker(db, jira=None).run_once()
    (job,) = run(db, sync.user_sync_jobs, write=False)
    assert (job.status, job.detail) == ("failed", "Jira is not connected")
    # Once finished, a new request queues a new run.
    assert run(db, lambda tx: sync.request_user_sync(tx, actor=ADMIN), write=True) != job.id


def test_with_jira_the_sync_creates_and_updates_users(db: Database) -> None:
    run(db, lambda tx: sync.request_user_sync(tx, actor=ADMIN), write=True)
    assert JobWorker(db, jira=TwoJiraUsers()).run_once()
    (job,) = run(db, sync.user_sync_jobs, write=False)
    assert (job.status, job.detail) == (
        "done",
        "2 Jira users: 1 users created, 1 updated, 0 disabled; "
        "contacts: 1 created, 0 updated, 0 matched; 0 errors",
    )
    found = {u.login: u for u in run(db, lambda tx: users.list_users(tx, actor=ADMIN), write=False)}
    assert found["viewer"].display_name == "Vera Viewer"
    assert found["newcomer"].jira_key == "JIRAUSER2"
    assert not found["newcomer"].is_active


def test_crm_properties_link_an_issue_to_contacts_and_give_their_emails(db: Database) -> None:
    run(
        db,
        lambda tx: issues.set_crm_properties(
            tx, "proj-7", "customfield_1", "(3), Ted Johnson,3", actor=ADMIN
        ),
        write=True,
    )
    emails = run(
        db,
        lambda tx: issues.contact_emails(tx, "PROJ-7", "customfield_1", actor=ADMIN),
        write=False,
    )
    assert emails == ["carol@adobe.example", "ted@oceanic.example"]
    assert (
        run(db, lambda tx: issues.contact_emails(tx, "PROJ-7", "other", actor=ADMIN), write=False)
        == []
    )


@pytest.mark.parametrize(
    ("issue_key", "value", "error"),
    [
        ("not a key", "(3)", InvalidParameter),
        ("PROJ-1", "(999)", EntryNotFound),
        ("PROJ-1", "Nobody Atall", EntryNotFound),
    ],
)
def test_bad_crm_properties_are_refused(
    db: Database, issue_key: str, value: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        run(
            db,
            lambda tx: issues.set_crm_properties(tx, issue_key, "cf", value, actor=ADMIN),
            write=True,
        )


def test_issue_commands_need_the_main_menu(db: Database) -> None:
    nobody = Actor(User(1, "x"), Rights(global_rights=frozenset()), "legacy")
    with pytest.raises(PermissionDenied, match="CRM Main Menu"):
        run(db, lambda tx: issues.contact_emails(tx, "P-1", "cf", actor=nobody), write=False)
    allowed = Actor(User(1, "x"), Rights(global_rights=frozenset({GlobalRight.MAIN_MENU})), "x")
    assert (
        run(db, lambda tx: issues.contact_emails(tx, "P-1", "cf", actor=allowed), write=False) == []
    )


def test_housekeeping_forgets_idempotent_replies_after_a_day(db: Database) -> None:
    def keep(key: str, age: timedelta) -> None:
        def answer(tx: Transaction) -> None:
            token_store.claim_key(tx.connection, 1, key, "f", now() - age)
            token_store.store_reply(
                tx.connection, 1, key, token_store.StoredReply("f", 201, {}, b"{}")
            )

        run(db, answer, write=True)

    keep("old", timedelta(hours=25))
    keep("new", timedelta(hours=1))
    assert JobWorker(db, jira=None).housekeeping() == 1
    kept = run(
        db,
        lambda tx: [
            token_store.stored_reply(tx.connection, 1, k) is not None for k in ("old", "new")
        ],
        write=False,
    )
    assert kept == [False, True]


class JiraThatWaits(TwoJiraUsers):
    """A Jira whose user list comes only once `answer` is set."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.answer = threading.Event()

    def users(self, progress: object = None) -> Iterable[JiraUser]:
        self.asked.set()
        self.answer.wait(timeout=30)
        return super().users(progress)


def test_a_stopping_worker_hands_its_job_back_to_the_queue(db: Database) -> None:
    run(db, lambda tx: sync.request_user_sync(tx, actor=ADMIN), write=True)
    jira = JiraThatWaits()
    stopping = JobWorker(db, jira=jira)
    stopping.start()
    assert jira.asked.wait(timeout=30)
    stopping.stop(timeout=0.1)
    (handed_back,) = run(db, sync.user_sync_jobs, write=False)
    jira.answer.set()  # the stopped worker's thread ends; its lease is gone
    stopping.stop()
    assert (handed_back.status, handed_back.attempts) == ("queued", 0)
    assert JobWorker(db, jira=TwoJiraUsers()).run_once()
    (job,) = run(db, sync.user_sync_jobs, write=False)
    assert job.status == "done"
