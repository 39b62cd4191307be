"""Pydantic models: what the OpenAPI document says requests and replies look like.

Entries are open objects (their keys are the directory's field codes, custom ones
included), so their models list the keys every entry has and allow the rest.
"""

from collections.abc import Iterable
from typing import Any

from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from accord.api.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from accord.domain.schema import FieldType
from accord.services.idempotency import MAX_KEY_LENGTH
from accord.services.listings import MAX_LIMIT

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A personal API token, made by `accord token create LOGIN`",
)
"""Documents the token every route takes; `accord.api.context.bearer` checks it."""


LIST_TEXT_LENGTH = {"q": 1000, "sort": 1000, "fields": 10000, "cursor": 4000}
"""The longest value each text parameter of a list takes (in a query or a search's body)."""


class EntryModel(BaseModel):
    """An entry: id, version, timestamps, and a key per field code with its typed value."""

    model_config = ConfigDict(extra="allow")
    id: int
    version: int
    created_at: str
    updated_at: str


class PageEntryModel(EntryModel):
    """An entry of a page: every key, as EntryModel; with `fields=`, only `id` and the keys
    named (`version`, `created_at` and `updated_at` only if named)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"required": ["id"]})


class PageModel(BaseModel):
    items: list[PageEntryModel]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last")
    total: int | None = Field(None, description="With count=true: every matching entry")


class SearchModel(BaseModel):
    """The body of a search: the filter as JSON (or as the text grammar) and paging."""

    # Strict: `"limit": "5"` or `"count": 1` are refused, as the document says, not coerced.
    model_config = ConfigDict(extra="forbid", strict=True)
    filter: dict[str, Any] | str | None = Field(
        None,
        description='{"and"|"or": [...]}, {"not": {...}}, {"field", "op", "value"}, or text',
    )
    q: str = Field("", max_length=LIST_TEXT_LENGTH["q"])
    sort: str = Field("", max_length=LIST_TEXT_LENGTH["sort"])
    fields: list[str] = Field(default_factory=list, max_length=1000)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str = Field("", max_length=LIST_TEXT_LENGTH["cursor"])
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


class FieldErrorModel(BaseModel):
    field: str = Field(description="A field code, a parameter, or `body`")
    code: str
    message: str


class ProblemModel(BaseModel):
    """RFC 9457 problem details, with Accord's stable `code` and per-field `errors`."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="`urn:accord:problem:<code>`")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable and machine-readable, e.g. `entry_not_found`")
    instance: str | None = Field(None, description="The path asked for")
    errors: list[FieldErrorModel] | None = Field(None, description="What is wrong, field by field")
    position: int | None = Field(
        None, description="A filter syntax error: where in the filter it was found (0-based)"
    )


PROBLEM_REF = "#/components/schemas/ProblemModel"
RESPONSE_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": 'Always `Bearer realm="accord"`',
            "schema": {"type": "string"},
            "required": True,
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds until the next request would be allowed",
            "schema": {"type": "integer", "minimum": 1},
            "required": True,
        },
        **{
            name: {"description": description, "schema": {"type": kind}, "required": True}
            for name, description, kind in [
                ("RateLimit-Limit", "Requests the bucket holds (the burst)", "integer"),
                ("RateLimit-Remaining", "Requests left in the bucket", "integer"),
                ("RateLimit-Reset", "Seconds until the bucket is full again", "integer"),
                ("RateLimit-Policy", "`<burst>;w=<seconds to refill it>`", "string"),
            ]
        },
    },
}


def problem_responses(statuses: Iterable[tuple[int, str]]) -> dict[int | str, dict[str, Any]]:
    """`responses` for routes' errors: problem JSON, with the headers each status carries.

    (A `model` would document them as application/json; docs.py puts ProblemModel in the
    document's components.)
    """
    return {
        status: {
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
            **({"headers": RESPONSE_HEADERS[status]} if status in RESPONSE_HEADERS else {}),
        }
        for status, description in statuses
    }


ETAG = {
    "ETag": {
        "description": 'The entry\'s version, e.g. `"3"`: send it back as If-Match',
        "schema": {"type": "string"},
        "required": True,
    }
}
ENTRY_REPLIES: dict[int | str, dict[str, Any]] = {200: {"headers": ETAG}}
NEW_ENTRY_REPLIES: dict[int | str, dict[str, Any]] = {
    201: {
        "headers": {
            **ETAG,
            "Location": {
                "description": "The new entry's path",
                "schema": {"type": "string"},
                "required": True,
            },
        }
    }
}
IF_MATCH_PATTERN = r'^\s*(\*|(W/)?"[0-9]+")\s*$'
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send the same key again (within a day) to get the first reply, not a second"
    " write",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (If-None-Match named this version)", "headers": ETAG}
}


class FieldDictionaryModel(BaseModel):
    id: int
    name: str


class FieldModel(BaseModel):
    code: str = Field(description="The key of the field in entries; fixed")
    name: str
    type: FieldType
    multiple: bool
    required: bool
    unique: bool
    read_only: bool = Field(description="Computed by Accord (contacts list, creator, created at)")
    dictionary: FieldDictionaryModel | None = Field(
        None, description="For dictionary and position fields"
    )
    link_to: str | None = Field(None, description="For link fields: the target directory's code")


class DirectoryModel(BaseModel):
    code: str
    name: str
    name_field: str = Field(description="The code of the field that names an entry")
    builtin: bool
    fields: list[FieldModel]


class DirectoryListModel(BaseModel):
    items: list[DirectoryModel]


class MeModel(BaseModel):
    """The user a token acts for."""

    login: str
    display_name: str
    email: str
    is_admin: bool


FIELD_CHANGES: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "required": {"type": "boolean"},
    },
    "additionalProperties": False,
}
"""The body of PATCH .../fields/{field_code}: what may change about a field."""
