"""PostgreSQL test databases used again: a database a test has finished with is put back
as its template was, instead of dropped.

Every `DROP DATABASE` makes PostgreSQL run a checkpoint, which writes out every dirty page
of the server (0.15 s on a quiet machine, 1 to 4 s while tests run beside it), and every
`CREATE DATABASE ... TEMPLATE` writes the template's 10 MB again. Putting back the rows
of the few tables a test changed costs a few statements.

A database is used again only if nothing but rows and sequences changed: its schema, its
planner statistics (`pg_class` figures and `pg_statistic`), its settings and extensions
are the template's, and no table or index has grown past the template's size by more
than a few pages (dead rows would change the planner's estimates of small tables). The
partitions of the text index made by directories a test added are dropped first. Any
other difference, or `MAX_USES` uses, and the database is dropped as before.
"""

from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa

MAX_USES = 25
"""Uses of one database before it is dropped anyway: dead rows are bounded."""
SLACK_BYTES = 4 * 8192
"""How much a table or index may have grown past its template's size."""

_SHAPE = """
SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM (
  SELECT format('rel %s %s %s %s %s', c.relname, c.relkind, c.reltuples, c.relpages,
                c.relispartition) AS line
  FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('col %s.%s %s %s %s %s', c.relname, a.attname,
                format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated,
                pg_get_expr(d.adbin, d.adrelid))
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'idx ' || pg_get_indexdef(i.indexrelid) FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('con %s %s', conname, pg_get_constraintdef(oid)) FROM pg_constraint
  WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('trg %s %s', pg_get_triggerdef(oid), tgenabled) FROM pg_trigger
  WHERE NOT tgisinternal
  UNION ALL
  SELECT format('fn %s %s', proname, md5(prosrc)) FROM pg_proc
  WHERE pronamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('ext %s %s', extname, extversion) FROM pg_extension
  UNION ALL
  SELECT format('stat %s %s', c.relname, md5(s::text)) FROM pg_statistic s
  JOIN pg_class c ON c.oid = s.starelid WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('set %s', setconfig) FROM pg_db_role_setting
  WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL
  SELECT format('nsp %s', nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%temp\\_%'
) AS shape
"""
"""One digest of everything about a database but its rows and sequences' values."""

_TABLES = """
SELECT c.relname,
       string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
         FILTER (WHERE a.attgenerated = '')
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
GROUP BY c.relname ORDER BY c.relname
"""

_SIZES = """
SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i', 'm', 't')
"""

_SEQUENCES = """
SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences
WHERE schemaname = 'public'
"""


@dataclass(frozen=True)
class Pristine:
    """What a template holds, read once: its shape, and each table's rows as COPY text."""

    shape: str
    tables: dict[str, tuple[str, bytes, str]]
    """table -> (its column list, its rows as COPY text, a digest of its rows)"""
    sequences: dict[str, int | None]
    sizes: dict[str, int]

    @classmethod
    def read(cls, url: str) -> "Pristine":
        with _connected(url) as connection:
            columns = dict(connection.execute(_TABLES).fetchall())
            digests = _digests(connection, list(columns))
            return cls(
                shape=_shape(connection),
                tables={
                    table: (listed, _copy_out(connection, table, listed), digests[table])
                    for table, listed in columns.items()
                },
                sequences=dict(connection.execute(_SEQUENCES).fetchall()),
                sizes=dict(connection.execute(_SIZES).fetchall()),
            )

    def put_back(self, url: str) -> bool:
        """Make the database at `url` hold what the template held; False if it cannot be
        (then it must be dropped)."""
        with _connected(url) as connection:
            self._drop_new_partitions(connection)
            if _shape(connection) != self.shape:
                return False
            sizes = dict(connection.execute(_SIZES).fetchall())
            if any(sizes.get(name, 0) > size + SLACK_BYTES for name, size in self.sizes.items()):
                return False
            digests = _digests(connection, list(self.tables))
            with connection.transaction():
                # The rows as they were, without the foreign keys' and history's triggers.
                connection.execute("SET LOCAL session_replication_role = replica")
                for table, (columns, data, digest) in self.tables.items():
                    if digests[table] != digest:
                        connection.execute(f'DELETE FROM "{table}"')
                        _copy_in(connection, table, columns, data)
                for sequence, value in self.sequences.items():
                    connection.execute(
                        "SELECT setval(%s, %s, %s)", (sequence, value or 1, value is not None)
                    )
            return True

    def _drop_new_partitions(self, connection: psycopg.Connection[Any]) -> None:
        partitions = connection.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relispartition AND relkind = 'r'"
        ).fetchall()
        for (name,) in partitions:
            if name not in self.sizes:
                connection.execute(f'DROP TABLE "{name}"')


def _connected(url: str) -> psycopg.Connection[Any]:
    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(False)
    return psycopg.connect(conninfo, autocommit=True)


def _shape(connection: psycopg.Connection[Any]) -> str:
    return str(connection.execute(_SHAPE).fetchone()[0])  # type: ignore[index]


def _digests(connection: psycopg.Connection[Any], tables: list[str]) -> dict[str, str]:
    parts = [
        f"SELECT '{table}', md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
        f' FROM "{table}" AS t'
        for table in tables
    ]
    return dict(connection.execute(" UNION ALL ".join(parts)).fetchall())  # type: ignore[arg-type]


def _copy_out(connection: psycopg.Connection[Any], table: str, columns: str) -> bytes:
    statement = f'COPY (SELECT {columns} FROM "{table}") TO STDOUT'
    with connection.cursor().copy(statement) as copy:  # type: ignore[arg-type]
        return b"".join(bytes(block) for block in copy)


def _copy_in(connection: psycopg.Connection[Any], table: str, columns: str, data: bytes) -> None:
    with connection.cursor().copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:  # type: ignore[arg-type]
        copy.write(data)
