"""A Jira connection

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

The one Jira instance Accord talks to: its address, how it is reached (Data Center or
Cloud; a token, a password or an API token), the secret encrypted with a key kept
outside the database, the groups whose members are synced (none: every user), and what
Jira said of itself when it was connected.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jira_connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("deployment", sa.String(length=20), nullable=False),
        sa.Column("auth", sa.String(length=20), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("server_title", sa.String(length=255), nullable=False),
        sa.Column("server_version", sa.String(length=64), nullable=False),
        sa.Column("deployment_type", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=500), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connected_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_jira_connection_single_row")),
        sa.ForeignKeyConstraint(
            ["connected_by"],
            ["users.id"],
            name=op.f("fk_jira_connection_connected_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jira_connection")),
    )


def downgrade() -> None:
    op.drop_table("jira_connection")
