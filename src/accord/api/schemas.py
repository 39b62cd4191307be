"""Pydantic models: what the OpenAPI document says requests and replies look like.

Entries are open objects (their keys are the directory's field codes, custom ones
included), so their models list the keys every entry has and allow the rest.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from accord.services.listings import MAX_LIMIT


class EntryModel(BaseModel):
    """An entry: id, version, timestamps, and a key per field code with its typed value."""

    model_config = ConfigDict(extra="allow")
    id: int
    version: int
    created_at: str
    updated_at: str


class PageModel(BaseModel):
    items: list[EntryModel]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last")
    total: int | None = Field(None, description="With count=true: every matching entry")


class SearchModel(BaseModel):
    """The body of a search: the filter as JSON (or as the text grammar) and paging."""

    model_config = ConfigDict(extra="forbid")
    filter: dict[str, Any] | str | None = Field(
        None,
        description='{"and"|"or": [...]}, {"not": {...}}, {"field", "op", "value"}, or text',
    )
    q: str = Field("", max_length=1000)
    sort: str = Field("", max_length=1000)
    fields: list[str] = Field(default_factory=list, max_length=1000)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str = Field("", max_length=4000)
    count: bool = False


class ChangeModel(BaseModel):
    at: str
    user: str | None
    edge: str
    action: str
    field: str | None
    old: str | None
    new: str | None


class HistoryModel(BaseModel):
    items: list[ChangeModel]


class ProblemModel(BaseModel):
    """RFC 9457 problem details, with Accord's stable `code` and per-field `errors`."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
