"""`POST .../batch`: create, update or upsert up to 1000 entries, with a result per item.

The reply is 200 with one result per item, in order: `{"index", "status": 201|200,
"id", "entry"}` for a written entry, `{"index", "status", "error": <problem>}` for a
refused one (the problem object a single write refused so would answer). All-or-nothing
(`atomic`) with a refused item: nothing is written, and the reply is a 422 problem
`batch_refused` whose `errors` name each refusal's place, `entries.<index>.<field>`.
An item's `version` guards it as If-Match guards a single write (`services.batches`).
"""

from typing import Any, Literal

import orjson
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from accord.api import problems, render
from accord.api.context import write_once_rendered
from accord.domain.errors import AccordError
from accord.domain.names import MAX_NAME_LENGTH
from accord.domain.schema import Directory, Schema
from accord.domain.users import Actor
from accord.services import batches
from accord.services.batches import MAX_ITEMS, Mode, Outcome
from accord.services.idempotency import Reply
from accord.services.transactions import Transaction


class BatchModel(BaseModel):
    """Entries to write: field values by field code, and `id` when matched by id."""

    # Strict, as the document says: `"atomic": 0` is refused, not read as false.
    model_config = ConfigDict(extra="forbid", strict=True)
    mode: Literal["create", "update", "upsert"]
    match: str = Field(
        "id",
        max_length=MAX_NAME_LENGTH,
        description="What update and upsert find entries by: id, or a unique field's code",
    )
    atomic: bool = Field(False, description="All or nothing: if any entry fails, none is written")
    entries: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description=(
            "Entries as JSON objects keyed by field code. An item that updates may carry"
            " the version it read: it is then written only if the entry is still at that"
            " version (else its result is a 412 stale_version), as If-Match guards a"
            " single write"
        ),
    )


class ResultModel(BaseModel):
    index: int
    status: int
    id: int | None = None
    entry: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class BatchReplyModel(BaseModel):
    results: list[ResultModel]


async def write_batch(request: Request, code: str, batch: BatchModel) -> Response:
    def work(tx: Transaction, actor: Actor) -> tuple[list[Outcome], Directory, Schema]:
        directory = tx.schema.find_directory(code)
        outcomes = batches.write_batch(
            tx,
            directory,
            batch.entries,
            mode=Mode(batch.mode),
            match=batch.match,
            atomic=batch.atomic,
            actor=actor,
        )
        return outcomes, directory, tx.schema

    return await write_once_rendered(request, work, _reply)


def _reply(written: tuple[list[Outcome], Directory, Schema]) -> Reply:
    outcomes, directory, schema = written
    return Reply(
        200, render.dumps({"results": [_result(o, directory, schema) for o in outcomes]}), {}
    )


def _result(outcome: Outcome, directory: Directory, schema: Schema) -> dict[str, Any]:
    if outcome.error is not None:
        error = _problem(outcome.error)
        return {"index": outcome.index, "status": error["status"], "error": error}
    assert outcome.entry is not None
    return {
        "index": outcome.index,
        "status": 201 if outcome.created else 200,
        "id": outcome.entry.id,
        "entry": render.entry_json(outcome.entry, directory, schema),
    }


def _problem(error: AccordError) -> dict[str, Any]:
    """The problem object a single write refused this way answers (problems.py's own)."""
    found: dict[str, Any] = orjson.loads(problems.from_error(error).body)
    return found
