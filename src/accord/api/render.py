"""Entries, directories and the rest as the REST API's JSON."""

from collections.abc import Collection
from typing import Any

import orjson

from accord.domain.entries import Entry
from accord.domain.json_values import json_fields
from accord.domain.schema import Dictionary, Directory, Field, Schema
from accord.services.listings import HistoryItem, Page

SYSTEM_KEYS = ("id", "version", "created_at", "updated_at")


def entry_json(
    entry: Entry, directory: Directory, schema: Schema, only: Collection[str] | None = None
) -> dict[str, Any]:
    """`id`, `version`, `created_at`, `updated_at`, then every field; or `id` and `only` those."""
    system = {
        "id": entry.id,
        "version": entry.version,
        "created_at": entry.created_at.isoformat(),
        "updated_at": entry.updated_at.isoformat(),
    }
    if only is None:
        for code, render in json_fields(schema, directory):
            system[code] = render(entry)
        return system
    body = {k: v for k, v in system.items() if k == "id" or k in only}
    for code, render in json_fields(schema, directory):
        if code in only:
            body[code] = render(entry)
    return body


def page_json(
    page: Page, directory: Directory, schema: Schema, only: Collection[str] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "items": [entry_json(e, directory, schema, only) for e in page.entries],
        "next_cursor": page.next_cursor,
    }
    if page.total is not None:
        body["total"] = page.total
    return body


def field_json(field: Field, schema: Schema) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": field.code,
        "name": field.name,
        "type": field.type.value,
        "multiple": field.multiple,
        "required": field.required,
        "unique": field.unique,
        "read_only": not field.type.is_stored,
    }
    if field.dictionary_id is not None:
        body["dictionary"] = {
            "id": field.dictionary_id,
            "name": schema.dictionary(field.dictionary_id).name,
        }
    if field.target_directory_id is not None:
        body["link_to"] = schema.directory(field.target_directory_id).code
    return body


def directory_json(directory: Directory, schema: Schema, *, fields: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": directory.code,
        "name": directory.name,
        "name_field": directory.name_field,
        "builtin": directory.builtin,
    }
    if fields:
        body["fields"] = [field_json(f, schema) for f in schema.fields_of(directory)]
    return body


def dictionary_json(dictionary: Dictionary) -> dict[str, Any]:
    return {
        "id": dictionary.id,
        "name": dictionary.name,
        "values": [{"id": v.id, "label": v.label} for v in dictionary.values],
    }


def change_json(item: HistoryItem) -> dict[str, Any]:
    change = item.change
    return {
        "at": change.at.isoformat(),
        "user": item.login,
        "edge": change.edge,
        "action": change.action,
        "field": change.field_code,
        "old": change.old_value,
        "new": change.new_value,
    }


def dumps(body: Any) -> bytes:
    return orjson.dumps(body)
