"""PostgreSQL keeps each directory's texts apart

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

A trigram index cannot tell fields apart: to count the contacts whose name holds
"northwind", PostgreSQL read every text that holds it, companies' included (98,000
company texts read for a search of contacts, at a million of each), and a `/search`
across four directories read the holders of each word four times. The text index is
now partitioned by range of row key, a partition per directory (a directory's row keys
are one range: `tables.entry_row_key`), each with its own trigram and start indexes; a
new directory gets its partition in its own transaction (`texts.add_partition`).

The table is rebuilt: its rows copied into the partitions, then the keys and indexes
made (faster than keeping them while copying). Its key is a unique index now, not a
primary key: `pg_restore --clean` tries to drop each partition's primary key, which
belongs to the partitioned table, and fails (a restore over a database refused).
SQLite's FTS5 index is unchanged.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "entry_pk bigint NOT NULL, field_id integer NOT NULL, text text NOT NULL"
_ROW_KEYS_PER_DIRECTORY = 2**32


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    _set_aside("pk_entry_texts")
    op.execute(f"CREATE TABLE entry_texts ({_COLUMNS}) PARTITION BY RANGE (entry_pk)")
    # As `texts.add_partition` makes them (written out: a migration does not change).
    for (directory_id,) in bind.exec_driver_sql("SELECT id FROM directories ORDER BY id"):
        low = directory_id * _ROW_KEYS_PER_DIRECTORY
        op.execute(
            f"CREATE TABLE entry_texts_{directory_id} PARTITION OF entry_texts "
            f"FOR VALUES FROM ({low}) TO ({low + _ROW_KEYS_PER_DIRECTORY})"
        )
    _fill_and_index(
        "CREATE UNIQUE INDEX uq_entry_texts_entry_pk_field_id ON entry_texts (entry_pk, field_id)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside("uq_entry_texts_entry_pk_field_id")
    op.execute(f"CREATE TABLE entry_texts ({_COLUMNS})")
    _fill_and_index(
        "ALTER TABLE entry_texts ADD CONSTRAINT pk_entry_texts PRIMARY KEY (entry_pk, field_id)"
    )


def _set_aside(key: str) -> None:
    """The table as it is, renamed with its key and indexes (whose names the new table
    takes), to copy from. (Renaming a primary key's index renames the key too.)"""
    op.execute("ALTER TABLE entry_texts RENAME TO entry_texts_old")
    op.execute(f"ALTER INDEX {key} RENAME TO {key}_old")
    op.execute("ALTER INDEX ix_entry_texts_text RENAME TO ix_entry_texts_text_old")
    op.execute("ALTER INDEX ix_entry_texts_start RENAME TO ix_entry_texts_start_old")


def _fill_and_index(key: str) -> None:
    op.execute("INSERT INTO entry_texts SELECT entry_pk, field_id, text FROM entry_texts_old")
    op.execute("DROP TABLE entry_texts_old")
    op.execute(key)
    op.execute(
        "ALTER TABLE entry_texts ADD CONSTRAINT fk_entry_texts_entry_pk_entries "
        "FOREIGN KEY (entry_pk) REFERENCES entries (pk) ON DELETE CASCADE"
    )
    op.execute(
        "ALTER TABLE entry_texts ADD CONSTRAINT fk_entry_texts_field_id_fields "
        "FOREIGN KEY (field_id) REFERENCES fields (id) ON DELETE CASCADE"
    )
    op.execute("CREATE INDEX ix_entry_texts_text ON entry_texts USING gin (text gin_trgm_ops)")
    op.execute(
        "CREATE INDEX ix_entry_texts_start ON entry_texts "
        "(field_id, left(text, 64) text_pattern_ops)"
    )
