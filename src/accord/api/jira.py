"""The Jira connection over REST, for administrators: status, connect, disconnect, sync.

The secret is taken, checked on Jira and stored encrypted; no reply ever holds it.
"""

from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from accord.api import render
from accord.api.context import context, json_response, read, write, write_once
from accord.domain.names import MAX_NAME_LENGTH
from accord.domain.users import Actor
from accord.jira.client import checked_url
from accord.jira.connect import LiveStatus, live_status, probe
from accord.services import jira_connection
from accord.services.idempotency import Reply
from accord.services.jira import Credential, JiraServer
from accord.services.jira_connection import MAX_GROUPS, MAX_SECRET_LENGTH
from accord.services.outbox import Backlog
from accord.services.transactions import Transaction

router = APIRouter()
Secret = Field(None, min_length=1, max_length=MAX_SECRET_LENGTH)
Name = Field(None, min_length=1, max_length=MAX_NAME_LENGTH)


class JiraConnect(BaseModel):
    """One way of signing in: `token` (Data Center), `user` and `password` (Data
    Center), or `email` and `api_token` (Cloud: `*.atlassian.net`, or `cloud`)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    url: str = Field(min_length=1, max_length=2000, description="Jira's base URL")
    token: str | None = Secret
    user: str | None = Name
    password: str | None = Secret
    email: str | None = Name
    api_token: str | None = Secret
    cloud: bool = False
    groups: list[str] = Field(
        default_factory=list,
        max_length=MAX_GROUPS,
        description="Sync only these groups' members (none: every user)",
    )


class JiraServerModel(BaseModel):
    title: str
    version: str
    deployment_type: str
    account: str


class LastSyncModel(BaseModel):
    status: str
    detail: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class OutboxModel(BaseModel):
    pending: int = Field(description="Writes to Jira waiting to be delivered")
    oldest_pending_at: datetime | None = Field(None, description="When the oldest was made")
    oldest_pending_seconds: int | None = Field(None, description="How long it has waited")
    last_error: str | None = Field(None, description="Why the newest failed write failed")
    last_error_at: datetime | None = None


class JiraStatusModel(BaseModel):
    connected: bool
    url: str | None = None
    deployment: str | None = None
    auth: str | None = None
    user: str | None = Field(None, description="The user or e-mail signed in with (no secret)")
    groups: list[str] = Field(default_factory=list)
    reachable: bool | None = Field(None, description="Whether Jira answered just now")
    server: JiraServerModel | None = None
    error: str | None = Field(None, description="Why Jira could not be asked, if it could not")
    connected_at: datetime | None = None
    last_sync: LastSyncModel | None = None
    last_error: str | None = None
    outbox: OutboxModel


class SyncQueuedModel(BaseModel):
    job: int


@router.get("/jira", response_model=JiraStatusModel, tags=["jira"], summary="The Jira connection")
async def get_status(request: Request) -> Response:
    actor = await read(request, _admin)
    box = context(request).secret_box
    status = await to_thread.run_sync(
        lambda: live_status(context(request).database, box, actor=actor)
    )
    return json_response(render.dumps(_status_json(status)))


@router.put(
    "/jira",
    response_model=JiraStatusModel,
    tags=["jira"],
    summary="Connect Jira (checked on serverInfo and myself first; nothing saved on failure)",
)
async def put_connection(request: Request, body: JiraConnect) -> Response:
    credential = jira_connection.credential_from(
        body.url,
        token=body.token,
        user=body.user,
        password=body.password,
        email=body.email,
        api_token=body.api_token,
        cloud=body.cloud,
        groups=tuple(body.groups),
    )

    def check(_tx: Transaction, actor: Actor) -> Credential:
        return jira_connection.check_credential(credential, actor=actor)

    checked = await read(request, check)
    checked = _with_url(checked, checked_url(checked.url))
    server: JiraServer = await to_thread.run_sync(lambda: probe(checked))
    box = context(request).secret_box

    def save(tx: Transaction, actor: Actor) -> None:
        jira_connection.save_connection(tx, checked, server, box, actor=actor)

    await write(request, save)
    return await get_status(request)


@router.delete("/jira", status_code=204, tags=["jira"], summary="Disconnect Jira")
async def delete_connection(request: Request) -> Response:
    await write(request, lambda tx, actor: jira_connection.disconnect(tx, actor=actor))
    return Response(status_code=204)


@router.post(
    "/jira/sync",
    status_code=202,
    response_model=SyncQueuedModel,
    tags=["jira"],
    summary="Sync Jira's users (joins the sync already queued or running)",
)
async def post_sync(request: Request) -> Response:
    def work(tx: Transaction, actor: Actor) -> Reply:
        job = jira_connection.request_sync(tx, actor=actor)
        return Reply(202, render.dumps({"job": job}), {})

    return await write_once(request, work)


def _admin(_tx: Transaction, actor: Actor) -> Actor:
    actor.rights.require_admin()
    return actor


def _with_url(credential: Credential, url: str) -> Credential:
    return Credential(
        url,
        credential.deployment,
        credential.auth,
        credential.username,
        credential.secret,
        credential.groups,
    )


def _status_json(live: LiveStatus) -> dict[str, Any]:
    stored = live.stored
    last = stored.last_sync
    server = live.server or stored.server
    return {
        "connected": stored.connected,
        "url": stored.url or None,
        "deployment": stored.deployment or None,
        "auth": stored.auth or None,
        "user": stored.username or None,
        "groups": list(stored.groups),
        "reachable": live.reachable,
        "server": None
        if server is None
        else {
            "title": server.title,
            "version": server.version,
            "deployment_type": server.deployment_type,
            "account": server.account,
        },
        "error": live.error or None,
        "connected_at": stored.connected_at,
        "last_sync": None
        if last is None
        else {
            "status": last.status,
            "detail": last.detail,
            "requested_at": last.requested_at,
            "started_at": last.started_at,
            "finished_at": last.finished_at,
        },
        "last_error": stored.last_error or None,
        "outbox": _outbox_json(stored.outbox),
    }


def _outbox_json(backlog: Backlog) -> dict[str, Any]:
    oldest = backlog.oldest_pending_at if backlog.pending else None
    waited = None if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
    return {
        "pending": backlog.pending,
        "oldest_pending_at": oldest,
        "oldest_pending_seconds": None if waited is None else max(0, int(waited)),
        "last_error": backlog.last_error or None,
        "last_error_at": backlog.last_error_at,
    }
