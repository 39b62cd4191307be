"""A Jira outbox

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

What must be written to Jira, written in the same transaction as the change that causes
it and delivered afterwards by the job worker, in order per issue, with retries.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("delivered_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "jira_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("issue_key", sa.String(length=255), nullable=False),
        sa.Column("directory_code", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jira_outbox")),
    )
    op.create_index(
        "ix_jira_outbox_pending_issue",
        "jira_outbox",
        ["issue_key", "next_attempt_at"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_index(
        "ix_jira_outbox_pending",
        "jira_outbox",
        ["id"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_index(op.f("ix_jira_outbox_last_error_at"), "jira_outbox", ["last_error_at"])
    op.create_index(op.f("ix_jira_outbox_delivered_at"), "jira_outbox", ["delivered_at"])


def downgrade() -> None:
    op.drop_table("jira_outbox")
