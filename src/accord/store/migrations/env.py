"""Alembic's entry point: runs migrations on the connection `accord.store.migrate` passes."""

from typing import Any

from alembic import context

from accord.store.tables import metadata


def _compared(item: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    """SQLite's text index is an FTS5 table (and its shadow tables), not the metadata's."""
    if context.get_bind().dialect.name != "sqlite":
        return True
    table = name if kind == "table" else getattr(getattr(item, "table", None), "name", "")
    return not (table or "").startswith("entry_texts")


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
