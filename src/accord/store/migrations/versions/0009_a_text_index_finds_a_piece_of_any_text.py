"""A text index finds a piece of any text

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

`icontains` and `q` read every value of the searched fields (`key LIKE '%piece%'` on the
value index): linear in the directory, seconds at a million entries. The text index
(`store.texts`) holds each text value of each entry in its search form
(`domain.text.search_form`), whole, under an index of its trigrams: SQLite's FTS5 with
the trigram tokenizer, PostgreSQL's `pg_trgm` (a trusted extension: the database's owner
may create it). This migration builds it from the entries there are.
"""

from collections.abc import Iterator, Sequence

import orjson
import sqlalchemy as sa
from alembic import op

from accord.domain.text import search_form

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_TYPES = ("text", "email", "url")
CHUNK = 5000


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # `columnsize = 0`: no table of text sizes (only bm25 ranking reads it), one
        # write fewer per text written.
        op.execute(
            "CREATE VIRTUAL TABLE entry_texts USING fts5("
            "text, tokenize = 'trigram case_sensitive 1', detail = full, columnsize = 0)"
        )
        # Merge segments 8 at a time, not 4: batches of new entries load 11 % faster
        # (12,400 against 11,100 entries a second at 100,000 contacts); a search reads
        # at most 8 segments of a level instead of 4.
        op.execute("INSERT INTO entry_texts (entry_texts, rank) VALUES ('automerge', 8)")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_table(
            "entry_texts",
            sa.Column("entry_pk", sa.BigInteger(), nullable=False),
            sa.Column("field_id", sa.Integer(), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(
                ["entry_pk"],
                ["entries.pk"],
                name="fk_entry_texts_entry_pk_entries",
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(
                ["field_id"],
                ["fields.id"],
                name="fk_entry_texts_field_id_fields",
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("entry_pk", "field_id", name="pk_entry_texts"),
        )
    _fill(bind)
    if bind.dialect.name != "sqlite":
        # After the rows: one build of the index is faster than an insert per row.
        op.execute("CREATE INDEX ix_entry_texts_text ON entry_texts USING gin (text gin_trgm_ops)")


def _fill(bind: sa.Connection) -> None:
    fields = bind.execute(
        sa.text("SELECT id, directory_id, code FROM fields WHERE type IN :types").bindparams(
            sa.bindparam("types", expanding=True)
        ),
        {"types": list(TEXT_TYPES)},
    ).all()
    by_directory: dict[int, list[tuple[int, str]]] = {}
    for field_id, directory_id, code in fields:
        by_directory.setdefault(directory_id, []).append((field_id, code))
    for directory_id, texts in by_directory.items():
        for chunk in _chunks(bind, directory_id, texts):
            _insert(bind, chunk)


def _chunks(
    bind: sa.Connection, directory_id: int, texts: list[tuple[int, str]]
) -> Iterator[list[tuple[int, int, str]]]:
    after = -1
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT pk, data FROM entries WHERE directory_id = :d AND pk > :after "
                "ORDER BY pk LIMIT :n"
            ),
            {"d": directory_id, "after": after, "n": CHUNK},
        ).all()
        if not rows:
            return
        chunk = []
        for pk, data in rows:
            values = orjson.loads(data) if isinstance(data, str) else data
            for field_id, code in texts:
                value = values.get(code)
                if isinstance(value, str) and value:
                    chunk.append((pk, field_id, search_form(value)))
        yield chunk
        after = rows[-1][0]


def _insert(bind: sa.Connection, rows: list[tuple[int, int, str]]) -> None:
    if not rows:
        return
    if bind.dialect.name == "sqlite":
        bind.execute(
            sa.text("INSERT INTO entry_texts (rowid, text) VALUES (:row, :text)"),
            # Each text after a start mark (`store.texts.START`).
            [{"row": (pk << 16) | field_id, "text": "\x02" + text} for pk, field_id, text in rows],
        )
    else:
        bind.execute(
            sa.text("INSERT INTO entry_texts (entry_pk, field_id, text) VALUES (:e, :f, :t)"),
            [{"e": pk, "f": field_id, "t": text} for pk, field_id, text in rows],
        )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_entry_texts_text")
    op.drop_table("entry_texts")
