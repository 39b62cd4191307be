"""Alembic's entry point: runs migrations on the connection `accord.store.migrate` passes."""

import re
from typing import Any

from alembic import context

from accord.store.tables import metadata


def _compared(item: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    """SQLite's text index is an FTS5 table (and its shadow tables), not the metadata's;
    PostgreSQL's has a partition per directory (`texts.add_partition`), made at run time."""
    table = (name if kind == "table" else getattr(getattr(item, "table", None), "name", "")) or ""
    if context.get_bind().dialect.name != "sqlite":
        return not _PARTITION.fullmatch(table)
    return not table.startswith("entry_texts")


_PARTITION = re.compile(r"entry_texts_\d+")


def run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
        include_object=_compared,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
