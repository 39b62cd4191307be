"""Replies: the JSON envelope and entries as flat objects (legacy-api.md §1 and §3.2)."""

from collections.abc import Iterator

import orjson

from accord.domain.entries import Entry
from accord.domain.schema import Directory, Schema
from accord.domain.values import flat_fields

MEDIA_TYPE = "application/json; charset=utf-8"


def entry_object(entry: Entry, directory: Directory, schema: Schema) -> dict[str, object]:
    """`id`, `name` and every field code of the directory, empty ones as ""."""
    rendered: dict[str, object] = {"id": str(entry.id), "name": ""}
    for code, render in flat_fields(schema, directory):
        rendered[code] = render(entry)
    rendered["name"] = rendered.get(directory.name_field, "")
    return rendered


def success(payload: dict[str, object] | None = None) -> bytes:
    return orjson.dumps({"success": True, **(payload or {})})


def failure(message: str) -> bytes:
    return orjson.dumps({"success": False, "details": message})


def listing(
    key: str, entries: Iterator[Entry], directory: Directory, schema: Schema
) -> Iterator[bytes]:
    """`{"success": true, "<key>": [...]}`, written out as the entries are read."""
    yield b'{"success":true,"' + key.encode() + b'":['
    first = True
    chunk: list[bytes] = []
    for entry in entries:
        chunk.append(orjson.dumps(entry_object(entry, directory, schema)))
        if len(chunk) == 500:
            yield (b"" if first else b",") + b",".join(chunk)
            first, chunk = False, []
    if chunk:
        yield (b"" if first else b",") + b",".join(chunk)
    yield b"]}"
