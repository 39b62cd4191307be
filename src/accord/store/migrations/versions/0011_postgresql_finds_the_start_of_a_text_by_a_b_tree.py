"""PostgreSQL finds the start of a text by a b-tree

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

`pg_trgm` pads each word with spaces, so its index reads "starts with kowalski" as "has
a word that starts with kowalski": every Anna Kowalski, each then rechecked and refused
(33 ms to find that no contact's name starts with a surname, at a million contacts,
and `q` asks that of every word typed, in every directory of `/search`). A b-tree of
each text's first characters (`text_pattern_ops`: compared byte by byte, as LIKE 'x%'
needs) finds them directly. SQLite's text index has its own start mark (`store.texts`).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_entry_texts_start ON entry_texts "
            "(field_id, left(text, 64) text_pattern_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_entry_texts_start")
