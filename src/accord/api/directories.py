"""Directories and their fields (reading; creating and altering for administrators)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from accord.api import render
from accord.api.context import json_response, read, write_once
from accord.api.schemas import FIELD_CHANGES, DirectoryListModel, DirectoryModel, FieldModel
from accord.domain.names import MAX_NAME_LENGTH
from accord.domain.rights import Action
from accord.domain.schema import MAX_DIRECTORY_CODE_LENGTH, FieldType
from accord.domain.users import Actor
from accord.services import directories
from accord.services.idempotency import Reply
from accord.services.transactions import Transaction

router = APIRouter(prefix="/directories", tags=["directories"])
DirectoryCode = Annotated[str, Path(max_length=MAX_NAME_LENGTH, description="A directory's code")]


class NewDirectory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(
        max_length=MAX_DIRECTORY_CODE_LENGTH, description="Letters, digits and _, e.g. PROJECTS"
    )
    name: str = Field(max_length=MAX_NAME_LENGTH)


class NewField(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=MAX_NAME_LENGTH)
    type: FieldType
    dictionary: str | None = Field(None, description="For dictionary and position fields")
    link_to: str | None = Field(None, description="For link fields: the target directory")
    multiple: bool = False
    required: bool = False
    unique: bool = False


@router.get(
    "", response_model=DirectoryListModel, summary="List the directories the caller may view"
)
async def list_directories(request: Request) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        shown = [d for d in tx.schema.directories if actor.rights.can(Action.VIEW, d)]
        return render.dumps({"items": [render.directory_json(d, tx.schema) for d in shown]})

    return json_response(await read(request, work))


@router.post(
    "",
    status_code=201,
    response_model=DirectoryModel,
    summary="Create a custom directory (administrators)",
)
async def create_directory(request: Request, new: NewDirectory) -> Response:
    def work(tx: Transaction, actor: Actor) -> Reply:
        directory = directories.add_directory(tx, new.code, new.name, actor=actor)
        return Reply(201, render.dumps(render.directory_json(directory, tx.schema)), {})

    return await write_once(request, work)


@router.get("/{code}", response_model=DirectoryModel, summary="A directory and its fields")
async def get_directory(request: Request, code: DirectoryCode) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        directory = tx.schema.find_directory(code)
        actor.rights.require_on(Action.VIEW, directory)
        return render.dumps(render.directory_json(directory, tx.schema))

    return json_response(await read(request, work))


@router.post(
    "/{code}/fields",
    status_code=201,
    response_model=FieldModel,
    summary="Add a custom field (administrators)",
)
async def create_field(request: Request, code: DirectoryCode, new: NewField) -> Response:
    def work(tx: Transaction, actor: Actor) -> Reply:
        field = directories.add_field(
            tx,
            code,
            new.name,
            new.type,
            dictionary=new.dictionary,
            link_to=new.link_to,
            multiple=new.multiple,
            required=new.required,
            unique=new.unique,
            actor=actor,
        )
        return Reply(201, render.dumps(render.field_json(field, tx.schema)), {})

    return await write_once(request, work)


@router.patch(
    "/{code}/fields/{field_code}",
    response_model=FieldModel,
    summary="Rename a field or make it (not) required (administrators)",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": FIELD_CHANGES}}}},
)
async def alter_field(
    request: Request,
    code: DirectoryCode,
    field_code: Annotated[str, Path(max_length=MAX_NAME_LENGTH)],
    changes: Annotated[dict[str, Any], Body()],
) -> Response:
    def work(tx: Transaction, actor: Actor) -> Reply:
        field = directories.alter_field(tx, code, field_code, changes, actor=actor)
        return Reply(200, render.dumps(render.field_json(field, tx.schema)), {})

    return await write_once(request, work)
