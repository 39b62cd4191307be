"""A right is held once by each holder

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

A grant was looked for, then inserted: two administrators granting the same right at once
(on PostgreSQL, whose writers run side by side) both found none and both inserted it.
Unique indexes now keep one grant per holder, right and directory, and a grant that is
there already is not inserted again (`store.users.insert_grant`).

Four partial indexes (user or group, on a directory or global), not one unique key on the
four columns: a grant leaves NULL the holder kind it does not use, and a global right its
directory, and a unique key takes each NULL for a value of its own, on both databases.

Grants held more than once before this are kept once: the oldest (lowest id) stays.
Revoking a right took every copy, so what each holder may do does not change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_grants = sa.table(
    "grants",
    sa.column("id", sa.Integer),
    sa.column("right", sa.String),
    sa.column("directory_id", sa.Integer),
    sa.column("user_id", sa.Integer),
    sa.column("group_id", sa.Integer),
)


def _indexes() -> list[tuple[str, list[str], str]]:
    """Each index's name, columns and condition."""
    made = []
    for holder in ("user_id", "group_id"):
        for on_directory in (True, False):
            columns = [holder, "right", *(["directory_id"] if on_directory else [])]
            where = f"directory_id IS {'NOT NULL' if on_directory else 'NULL'}"
            made.append((f"uq_grants_{'_'.join(columns)}", columns, where))
    return made


def upgrade() -> None:
    g, kept = _grants.c, _grants.alias("kept")
    # GROUP BY takes NULLs as equal, as the indexes must.
    oldest = sa.select(sa.func.min(kept.c.id)).group_by(
        kept.c.right, kept.c.directory_id, kept.c.user_id, kept.c.group_id
    )
    op.execute(_grants.delete().where(g.id.not_in(oldest)))
    for name, columns, where in _indexes():
        condition = sa.text(where)
        op.create_index(
            name,
            "grants",
            columns,
            unique=True,
            sqlite_where=condition,
            postgresql_where=condition,
        )


def downgrade() -> None:
    for name, _, _ in _indexes():
        op.drop_index(name, table_name="grants")
