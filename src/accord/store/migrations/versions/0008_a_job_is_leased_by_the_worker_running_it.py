"""A job is leased by the worker running it

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

A job left `running` by a worker that died (killed, crashed) stayed running for ever,
and every later request of its kind joined it. A worker now holds a lease on the job it
runs and renews it while it runs; a job whose lease expired is taken up again by the
next claim, at most a few times (`store.jobs`). A job running when this migration runs
has no lease, and counts as one whose worker died.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("lease_owner", sa.String(length=64), nullable=True))
    op.add_column("jobs", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    for column in ("attempts", "lease_expires_at", "lease_owner"):
        op.drop_column("jobs", column)
