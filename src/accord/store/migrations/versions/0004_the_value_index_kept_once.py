"""The value index kept once, and entries keyed by their place

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Two changes, made together because each rebuilds `entry_values`:

1. Every row of `entry_values` is its primary key, yet SQLite kept it four times: the
   table (by a hidden rowid), the primary key's index, the index by entry, and the
   unique index, which held a NULL `unique_key` for every value of every field that is
   not unique. Each value written or removed touched all four. Now, on SQLite, the
   table is its primary key (WITHOUT ROWID), and on both databases the unique index
   holds only the keys of unique fields.

2. An entry's row key (`entries.pk`) was a counter across directories, so the value
   index listed an entry's holders in no useful order, and a page of the entries
   holding a value (in id order, the default) had to read and sort every holder: 2,000
   holders at a million companies, 3.7 ms a page on SQLite. Now the key is the
   entry's place, `directory_id * 2^32 + id` (`tables.entry_row_key`), so the index
   lists a value's holders in id order and a page reads only its own entries.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNIQUE = "uq_entry_values_field_id_unique_key"
BY_ENTRY = "ix_entry_values_entry_pk_field_id_key"
CHILDREN = {
    "entry_values": "fk_entry_values_entry_pk_entries",
    "issue_links": "fk_issue_links_entry_pk_entries",
}


def place(row: str = "") -> str:
    """`tables.entry_row_key` in SQL, of the entries row named `row` (or the one updated)."""
    of = f"{row}." if row else ""
    return f"({of}directory_id * 4294967296 + {of}number)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Checked at the commit, when parents and children have their new keys.
        op.execute("PRAGMA defer_foreign_keys = ON")
        _rebuild_sqlite(
            rowid=False, new_key=f"(SELECT {place('e')} FROM entries e WHERE e.pk = v.entry_pk)"
        )
        op.execute(f"CREATE INDEX {BY_ENTRY} ON entry_values (entry_pk, field_id, key)")
        _rekey_issue_links()
    else:
        op.drop_constraint(UNIQUE, "entry_values", type_="unique")
        for table, constraint in CHILDREN.items():
            op.drop_constraint(constraint, table, type_="foreignkey")
        for table in CHILDREN:
            op.execute(
                f"UPDATE {table} SET entry_pk = {place('e')} FROM entries e "
                f"WHERE e.pk = {table}.entry_pk"
            )
    op.execute(f"UPDATE entries SET pk = {place()}")
    if op.get_bind().dialect.name != "sqlite":
        for table, constraint in CHILDREN.items():
            op.create_foreign_key(
                constraint, table, "entries", ["entry_pk"], ["pk"], ondelete="CASCADE"
            )
    op.execute(
        f"CREATE UNIQUE INDEX {UNIQUE} ON entry_values (field_id, unique_key) "
        "WHERE unique_key IS NOT NULL"
    )


def downgrade() -> None:
    # Row keys stay as they are: any unique key serves the older code.
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(rowid=True, new_key="v.entry_pk")
        op.execute(f"CREATE INDEX {BY_ENTRY} ON entry_values (entry_pk, field_id, key)")
        return
    op.drop_index(UNIQUE, "entry_values")
    op.create_unique_constraint(UNIQUE, "entry_values", ["field_id", "unique_key"])


def _rebuild_sqlite(*, rowid: bool, new_key: str) -> None:
    """Copy the table into a new one (SQLite alters no table options), in key order,
    with each row's entry key as `new_key` computes it from the row `v`."""
    unique = "" if not rowid else f", CONSTRAINT {UNIQUE} UNIQUE (field_id, unique_key)"
    op.execute(
        "CREATE TABLE entry_values_new ("
        "field_id INTEGER NOT NULL, "
        "key VARCHAR(200) NOT NULL, "
        "entry_pk INTEGER NOT NULL, "
        "unique_key VARCHAR(200), "
        "CONSTRAINT pk_entry_values PRIMARY KEY (field_id, key, entry_pk), "
        "CONSTRAINT fk_entry_values_entry_pk_entries FOREIGN KEY(entry_pk) "
        "REFERENCES entries (pk) ON DELETE CASCADE, "
        "CONSTRAINT fk_entry_values_field_id_fields FOREIGN KEY(field_id) "
        f"REFERENCES fields (id) ON DELETE CASCADE{unique})" + ("" if rowid else " WITHOUT ROWID")
    )
    op.execute(
        "INSERT INTO entry_values_new (field_id, key, entry_pk, unique_key) "
        f"SELECT v.field_id, v.key, {new_key}, v.unique_key FROM entry_values v "
        "ORDER BY 1, 2, 3"
    )
    op.execute("DROP TABLE entry_values")
    op.execute("ALTER TABLE entry_values_new RENAME TO entry_values")


def _rekey_issue_links() -> None:
    op.execute(
        f"UPDATE issue_links SET entry_pk = (SELECT {place('e')} FROM entries e "
        "WHERE e.pk = issue_links.entry_pk)"
    )
