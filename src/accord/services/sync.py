"""The user sync with Jira: requested by anyone with the main menu, run in the background."""

from accord.domain.errors import JiraNotConnected
from accord.domain.rights import GlobalRight
from accord.domain.users import Actor
from accord.services.jira import JiraGateway
from accord.services.transactions import now
from accord.store import jobs as store
from accord.store import users as user_store
from accord.store.database import Transaction
from accord.store.jobs import Job

USER_SYNC = "jira-user-sync"


def request_user_sync(tx: Transaction, *, actor: Actor) -> int:
    """Queue a user sync, or join the one already queued or running; return its job id."""
    actor.rights.require(GlobalRight.MAIN_MENU)
    return store.enqueue(tx.connection, USER_SYNC, by=actor.user_id, at=now())


def claim_job(tx: Transaction) -> Job | None:
    """Take the oldest queued job for this worker, if there is one."""
    return store.claim(tx.connection, at=now())


def run_job(tx: Transaction, job: Job, *, jira: JiraGateway | None) -> str:
    """Do a claimed job's work; return what to record of it."""
    if job.kind != USER_SYNC:
        raise ValueError(f"Unknown job kind: {job.kind}")
    if jira is None:
        raise JiraNotConnected
    return _sync_users(tx, jira)


def _sync_users(tx: Transaction, jira: JiraGateway) -> str:
    """Create or update an Accord user for each Jira user (matched by key, then login)."""
    created = updated = 0
    for jira_user in jira.users():
        user = user_store.find_user(tx.connection, jira_user.key)
        if user is None or (user.jira_key not in (None, jira_user.key)):
            user = user_store.find_user(tx.connection, jira_user.login)
        if user is None:
            user_store.insert_user(
                tx.connection,
                login=jira_user.login,
                email=jira_user.email,
                is_admin=False,
                at=now(),
                display_name=jira_user.display_name,
                jira_key=jira_user.key,
                is_active=jira_user.active,
            )
            created += 1
        else:
            user_store.update_user(
                tx.connection,
                user.id,
                login=jira_user.login,
                email=jira_user.email,
                display_name=jira_user.display_name,
                jira_key=jira_user.key,
                is_active=jira_user.active,
            )
            updated += 1
    tx.changed("auth")
    return f"{created} users created, {updated} updated"


def finish_job(tx: Transaction, job: Job, *, ok: bool, detail: str) -> None:
    store.finish(tx.connection, job.id, ok=ok, detail=detail, at=now())


def user_sync_jobs(tx: Transaction) -> list[Job]:
    return store.jobs_of(tx.connection, USER_SYNC)
