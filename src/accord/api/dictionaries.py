"""Dictionaries and their values: read by any caller, changed with the dictionary rights."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from accord.api import render
from accord.api.context import json_response, read, write, write_once
from accord.domain.entries import MAX_ID
from accord.domain.schema import DictionaryValue
from accord.domain.users import Actor
from accord.domain.values import MAX_LABEL_LENGTH
from accord.services import dictionaries
from accord.services.idempotency import Reply
from accord.services.transactions import Transaction

router = APIRouter(prefix="/dictionaries", tags=["dictionaries"])
DictionaryId = Annotated[int, Path(ge=1, le=MAX_ID, description="The dictionary's id")]
ValueId = Annotated[int, Path(ge=1, le=MAX_ID, description="The value's id")]
Label = Annotated[str, Field(min_length=1, max_length=MAX_LABEL_LENGTH, description="No comma")]
MAX_VALUES = 1000


class NewDictionary(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=MAX_LABEL_LENGTH)
    values: list[Label] = Field(default_factory=list, max_length=MAX_VALUES)


class NewValue(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    label: Label


class ValueModel(BaseModel):
    id: int = Field(description="Unique across all dictionaries")
    label: str


class DictionaryModel(BaseModel):
    id: int
    name: str
    values: list[ValueModel] = Field(description="In display order")


class DictionaryListModel(BaseModel):
    items: list[DictionaryModel]


@router.get("", response_model=DictionaryListModel, summary="List dictionaries with their values")
async def list_dictionaries(request: Request) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        items = [render.dictionary_json(d) for d in tx.schema.dictionaries]
        return render.dumps({"items": items})

    return json_response(await read(request, work))


@router.post(
    "",
    status_code=201,
    response_model=DictionaryModel,
    summary="Create a dictionary with values (administrators)",
)
async def create_dictionary(request: Request, new: NewDictionary) -> Response:
    def work(tx: Transaction, actor: Actor) -> Reply:
        created = dictionaries.create_dictionary(tx, new.name, new.values, actor=actor)
        location = f"{request.url.path.rstrip('/')}/{created.id}"
        return Reply(201, render.dumps(render.dictionary_json(created)), {"Location": location})

    return await write_once(request, work)


@router.get("/{dictionary_id}", response_model=DictionaryModel, summary="A dictionary")
async def get_dictionary(request: Request, dictionary_id: DictionaryId) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        found = dictionaries.get_dictionary(tx, dictionary_id)
        return render.dumps(render.dictionary_json(found))

    return json_response(await read(request, work))


@router.post(
    "/{dictionary_id}/values",
    status_code=201,
    response_model=ValueModel,
    summary="Add a value at the end (right: Add the values to dictionaries)",
)
async def add_value(request: Request, dictionary_id: DictionaryId, new: NewValue) -> Response:
    def work(tx: Transaction, actor: Actor) -> Reply:
        value = dictionaries.add_value(tx, dictionary_id, new.label, actor=actor)
        return Reply(201, render.dumps(_value_json(value)), {})

    return await write_once(request, work)


@router.delete(
    "/{dictionary_id}/values/{value_id}",
    status_code=204,
    summary="Remove a value; entries holding it lose it, with history "
    "(right: Remove the values from dictionaries)",
)
async def remove_value(
    request: Request, dictionary_id: DictionaryId, value_id: ValueId
) -> Response:
    def work(tx: Transaction, actor: Actor) -> None:
        dictionaries.remove_value(tx, dictionary_id, value_id, actor=actor)

    await write(request, work)
    return Response(status_code=204)


def _value_json(value: DictionaryValue) -> dict[str, object]:
    return {"id": value.id, "label": value.label}
