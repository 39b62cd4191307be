"""A directory's next id may pass 32 bits

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

Ids end at 2^31 - 1 (`entries.MAX_ID`). A batch may create an entry with an id of its
own, the highest one included, and then the directory's next id is 2^31: every id is
handed out. PostgreSQL could not store that (`integer out of range`, a 500), and SQLite
handed out 2^31 and more, ids no route can reach. `next_number` is now a 64-bit integer
on PostgreSQL (SQLite's integers are 64-bit already), and handing out an id past MAX_ID
is refused (`NoIdsLeft`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "directories", "next_number", type_=sa.BigInteger(), existing_nullable=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("directories", "next_number", type_=sa.Integer(), existing_nullable=False)
