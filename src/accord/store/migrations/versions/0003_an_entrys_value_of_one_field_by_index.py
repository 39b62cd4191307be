"""An entry's value of one field, found through one index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Sorting a page on a field, or testing whether a field is empty, looks up one entry's
value of one field. With an index on `entry_pk` alone, SQLite (which keeps no
statistics) preferred the primary key's `field_id` prefix and read every value of the
field once per entry: a sort on a name at 100,000 companies ran for minutes. The index
on (entry_pk, field_id, key) answers the lookup alone, on every database, and still
serves the foreign key's cascades.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_entry_values_entry_pk_field_id_key", "entry_values", ["entry_pk", "field_id", "key"]
    )
    op.drop_index("ix_entry_values_entry_pk", "entry_values")


def downgrade() -> None:
    op.create_index("ix_entry_values_entry_pk", "entry_values", ["entry_pk"])
    op.drop_index("ix_entry_values_entry_pk_field_id_key", "entry_values")
