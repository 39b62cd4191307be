"""The API key remembers when it was set

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08

The administration page shows a generated legacy API key once, and afterwards only when
it was set; a key set before this revision has no date ("set", date unknown).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("instance") as batch:
        batch.add_column(sa.Column("api_key_set_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instance") as batch:
        batch.drop_column("api_key_set_at")
