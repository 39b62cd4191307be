"""Users, groups and grants: administrators only (a read-only or directory-limited token
has no administration, whoever it belongs to)."""

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from accord.api import render
from accord.api.context import json_response, read, write, write_once
from accord.domain.entries import MAX_ID
from accord.domain.names import MAX_NAME_LENGTH
from accord.domain.rights import Action, GlobalRight, directory_right_title
from accord.domain.schema import Schema
from accord.domain.users import Actor, Group, User
from accord.services import users
from accord.services.idempotency import Reply
from accord.services.transactions import Transaction

router = APIRouter()
Login = Annotated[str, Path(max_length=MAX_NAME_LENGTH, description="A user's login")]
GroupName = Annotated[str, Path(max_length=MAX_NAME_LENGTH, description="A group's name")]
GrantId = Annotated[int, Path(ge=1, le=MAX_ID, description="The grant's id")]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
RIGHT_SYNTAX = (
    "main-menu, dictionaries.add, dictionaries.remove, or DIRECTORY.view|add|edit|remove|all "
    "(DIRECTORY: a code or name; all names the four rights)"
)

# Users


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    login: Name
    email: str = Field("", max_length=MAX_NAME_LENGTH)
    display_name: str = Field("", max_length=MAX_NAME_LENGTH, description="Default: the login")
    is_admin: bool = False


class UserChanges(BaseModel):
    """What to change; a key left out (or null) keeps its value."""

    model_config = ConfigDict(extra="forbid", strict=True)
    email: str | None = Field(None, max_length=MAX_NAME_LENGTH)
    display_name: Name | None = None
    is_active: bool | None = Field(None, description="false: the user can no longer call APIs")
    is_admin: bool | None = None


class UserModel(BaseModel):
    login: str
    display_name: str
    email: str
    is_admin: bool
    is_active: bool
    jira_key: str | None
    groups: list[str] | None = Field(None, description="Only when one user is read")


class UserListModel(BaseModel):
    items: list[UserModel]


@router.get("/users", response_model=UserListModel, tags=["users"], summary="List users")
async def list_users(request: Request) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        found = users.list_users(tx, actor=actor)
        return render.dumps({"items": [_user_json(u) for u in found]})

    return json_response(await read(request, work))


@router.post(
    "/users", status_code=201, response_model=UserModel, tags=["users"], summary="Add a user"
)
async def create_user(request: Request, new: NewUser) -> Response:
    def work(tx: Transaction, actor: Actor) -> Reply:
        user = users.add_user(
            tx,
            new.login,
            email=new.email,
            display_name=new.display_name,
            is_admin=new.is_admin,
            actor=actor,
        )
        location = f"{request.url.path.rstrip('/')}/{quote(user.login, safe='')}"
        return Reply(201, render.dumps(_user_json(user, [])), {"Location": location})

    return await write_once(request, work)


@router.get("/users/{login}", response_model=UserModel, tags=["users"], summary="A user")
async def get_user(request: Request, login: Login) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        user = users.read_user(tx, login, actor=actor)
        return render.dumps(_user_json(user, users.user_groups(tx, login, actor=actor)))

    return json_response(await read(request, work))


@router.patch(
    "/users/{login}",
    response_model=UserModel,
    tags=["users"],
    summary="Enable or disable a user, change the e-mail, display name or administration",
)
async def update_user(request: Request, login: Login, changes: UserChanges) -> Response:
    def work(tx: Transaction, actor: Actor) -> Reply:
        user = users.update_user(
            tx,
            login,
            email=changes.email,
            display_name=changes.display_name,
            is_active=changes.is_active,
            is_admin=changes.is_admin,
            actor=actor,
        )
        groups = users.user_groups(tx, user.login, actor=actor)
        return Reply(200, render.dumps(_user_json(user, groups)), {})

    return await write_once(request, work)


def _user_json(user: User, groups: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "login": user.login,
        "display_name": user.display_name,
        "email": user.email,
        "is_admin": user.is_admin,
        "is_active": user.is_active,
        "jira_key": user.jira_key,
    }
    if groups is not None:
        body["groups"] = groups
    return body


# Groups


class NewGroup(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: Name


class GroupModel(BaseModel):
    name: str
    members: list[str] = Field(description="The members' logins")


class GroupListModel(BaseModel):
    items: list[GroupModel]


@router.get("/groups", response_model=GroupListModel, tags=["groups"], summary="List groups")
async def list_groups(request: Request) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        members = users.all_group_members(tx, actor=actor)
        found = users.list_groups(tx, actor=actor)
        return render.dumps({"items": [_group_json(g, members.get(g.id, [])) for g in found]})

    return json_response(await read(request, work))


@router.post(
    "/groups", status_code=201, response_model=GroupModel, tags=["groups"], summary="Add a group"
)
async def create_group(request: Request, new: NewGroup) -> Response:
    def work(tx: Transaction, actor: Actor) -> Reply:
        group = users.add_group(tx, new.name, actor=actor)
        location = f"{request.url.path.rstrip('/')}/{quote(group.name, safe='')}"
        return Reply(201, render.dumps(_group_json(group, [])), {"Location": location})

    return await write_once(request, work)


@router.get("/groups/{name}", response_model=GroupModel, tags=["groups"], summary="A group")
async def get_group(request: Request, name: GroupName) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        return _group_reply(tx, name, actor)

    return json_response(await read(request, work))


@router.put(
    "/groups/{name}/members/{login}",
    response_model=GroupModel,
    tags=["groups"],
    summary="Make a user a member of a group (nothing changes if already one)",
)
async def add_member(request: Request, name: GroupName, login: Login) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        users.add_members(tx, name, [login], actor=actor)
        return _group_reply(tx, name, actor)

    return json_response(await write(request, work))


@router.delete(
    "/groups/{name}/members/{login}",
    status_code=204,
    tags=["groups"],
    summary="Take a user out of a group",
)
async def remove_member(request: Request, name: GroupName, login: Login) -> Response:
    def work(tx: Transaction, actor: Actor) -> None:
        users.remove_member(tx, name, login, actor=actor)

    await write(request, work)
    return Response(status_code=204)


def _group_reply(tx: Transaction, name: str, actor: Actor) -> bytes:
    group = users.read_group(tx, name, actor=actor)
    return render.dumps(_group_json(group, users.group_members(tx, group.name, actor=actor)))


def _group_json(group: Group, members: list[str]) -> dict[str, Any]:
    return {"name": group.name, "members": members}


# Grants


class NewGrant(BaseModel):
    """A right for a user or for a group (name exactly one)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    right: str = Field(min_length=1, max_length=300, description=RIGHT_SYNTAX)
    user: Name | None = Field(None, description="A user's login")
    group: Name | None = Field(None, description="A group's name")


class GrantModel(BaseModel):
    id: int
    right: str = Field(description="As POST /grants takes it: main-menu, CLIENTS.view, ...")
    directory: str | None = Field(description="The directory's code; null: a global right")
    title: str = Field(description="The right as `Permission denied: ...` names it")
    user: str | None = Field(description="The holder's login, if a user holds it")
    group: str | None = Field(description="The holder's name, if a group holds it")


class GrantListModel(BaseModel):
    items: list[GrantModel]


@router.get("/grants", response_model=GrantListModel, tags=["grants"], summary="List grants")
async def list_grants(
    request: Request,
    right: Annotated[str | None, Query(max_length=300, description=RIGHT_SYNTAX)] = None,
    user: Annotated[
        str | None, Query(max_length=MAX_NAME_LENGTH, description="Held by this user directly")
    ] = None,
    group: Annotated[
        str | None, Query(max_length=MAX_NAME_LENGTH, description="Held by this group")
    ] = None,
) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        found = users.list_grants(tx, right=right, user=user, group=group, actor=actor)
        return render.dumps({"items": [_grant_json(g, tx.schema) for g in found]})

    return json_response(await read(request, work))


@router.post(
    "/grants",
    status_code=201,
    response_model=GrantListModel,
    responses={200: {"model": GrantListModel, "description": "Every right was held already"}},
    tags=["grants"],
    summary="Grant a right (as `accord grant`); the reply lists the grants it names",
)
async def create_grant(request: Request, new: NewGrant) -> Response:
    def work(tx: Transaction, actor: Actor) -> Reply:
        added = users.grant(tx, new.right, user=new.user, group=new.group, actor=actor)
        held = users.list_grants(tx, right=new.right, user=new.user, group=new.group, actor=actor)
        body = render.dumps({"items": [_grant_json(g, tx.schema) for g in held]})
        return Reply(201 if added else 200, body, {})

    return await write_once(request, work)


@router.get("/grants/{grant_id}", response_model=GrantModel, tags=["grants"], summary="A grant")
async def get_grant(request: Request, grant_id: GrantId) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        return render.dumps(_grant_json(users.get_grant(tx, grant_id, actor=actor), tx.schema))

    return json_response(await read(request, work))


@router.delete("/grants/{grant_id}", status_code=204, tags=["grants"], summary="Revoke a grant")
async def revoke_grant(request: Request, grant_id: GrantId) -> Response:
    def work(tx: Transaction, actor: Actor) -> None:
        users.revoke_grant(tx, grant_id, actor=actor)

    await write(request, work)
    return Response(status_code=204)


def _grant_json(grant: users.GrantRow, schema: Schema) -> dict[str, Any]:
    if grant.directory_id is None:
        right, code, title = grant.right, None, GlobalRight(grant.right).display_name
    else:
        directory = schema.directory(grant.directory_id)
        code = directory.code
        right = f"{code}.{grant.right}"
        title = directory_right_title(Action(grant.right), directory)
    return {
        "id": grant.id,
        "right": right,
        "directory": code,
        "title": title,
        "user": grant.user,
        "group": grant.group,
    }
