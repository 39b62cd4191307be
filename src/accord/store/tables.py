"""The tables, as SQLAlchemy Core metadata (the migrations build them; this mirrors them).

Core, not the ORM: the store answers with domain dataclasses, every write is explicit,
and the hot paths (one entry, a page of entries) cost one statement each.
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A moment, always read back as an aware UTC datetime (SQLite keeps no offset).

    SQLite keeps a moment as text in UTC without an offset (`2026-11-28 13:33:00.000000`)
    and compares it as text, and its DateTime drops an offset it is given: so an aware
    datetime is bound as its UTC time, and a naive one is taken to be UTC already (on
    PostgreSQL too, where it would otherwise mean the session's time zone).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            # Filters are checked before they get here (`domain.query` answers a 400); should a
            # moment slip through, the error names it instead of a bare "date value out of range".
            raise ValueError(f"{value.isoformat()} falls outside the years 1-9999 in UTC") from None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


Timestamp = UtcDateTime()
# Index keys compare byte by byte on every database (SQLite's default; PostgreSQL's "C"),
# so that prefix and range scans and sorting mean the same everywhere.
Key = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")

instance = sa.Table(
    "instance",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("api_key_hash", sa.String(64)),
    sa.Column("api_key_set_at", Timestamp),
    sa.Column("schema_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("auth_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("demo_loaded_at", Timestamp),
    sa.CheckConstraint("id = 1", name="single_row"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("login", sa.String(255), nullable=False),
    sa.Column("login_key", sa.String(255), nullable=False, unique=True),
    sa.Column("display_name", sa.String(255), nullable=False),
    sa.Column("email", sa.String(255), nullable=False),
    sa.Column("jira_key", sa.String(255), unique=True),
    sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", Timestamp, nullable=False),
    # An Argon2id hash (PHC string) of the web UI's password; None: cannot sign in.
    sa.Column("password_hash", sa.String(255)),
)

groups = sa.Table(
    "groups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("name_key", sa.String(255), nullable=False, unique=True),
)

group_members = sa.Table(
    "group_members",
    metadata,
    sa.Column("group_id", sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Index(None, "user_id"),
)

directories = sa.Table(
    "directories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("name_field", sa.String(100), nullable=False),
    sa.Column("builtin", sa.Boolean, nullable=False, server_default=sa.false()),
    # Up to MAX_ID + 1 (every id handed out): past a 32-bit integer on PostgreSQL.
    sa.Column("next_number", BigId, nullable=False, server_default="1"),
)

dictionaries = sa.Table(
    "dictionaries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("name_key", sa.String(255), nullable=False, unique=True),
)

dictionary_values = sa.Table(
    "dictionary_values",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "dictionary_id", sa.ForeignKey("dictionaries.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("label", sa.String(1000), nullable=False),
    sa.Column("label_key", sa.String(200), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.UniqueConstraint("dictionary_id", "label_key"),
)

fields = sa.Table(
    "fields",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("directory_id", sa.ForeignKey("directories.id"), nullable=False),
    sa.Column("code", sa.String(100), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("multiple", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("required", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("unique", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("auto_create", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("dictionary_id", sa.ForeignKey("dictionaries.id")),
    sa.Column("target_directory_id", sa.ForeignKey("directories.id")),
    sa.Column("position", sa.Integer, nullable=False),
    sa.UniqueConstraint("directory_id", "code"),
)


ROW_KEYS_PER_DIRECTORY = 2**32
"""Ids go up to 2^31 - 1 (`domain.entries.MAX_ID`): directories' keys never overlap."""


def entry_row_key(directory_id: int, number: int) -> int:
    """An entry's row key (`entries.pk`): its place, directory then id. So every index
    that holds row keys (the value index) lists a directory's entries in id order."""
    return directory_id * ROW_KEYS_PER_DIRECTORY + number


entries = sa.Table(
    "entries",
    metadata,
    # Always given: `entry_row_key(directory_id, number)` (migration 0004).
    sa.Column("pk", BigId, primary_key=True, autoincrement=True),
    sa.Column("directory_id", sa.ForeignKey("directories.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_compact", sa.String(200), nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.ForeignKey("users.id")),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("updated_by", sa.ForeignKey("users.id")),
    sa.UniqueConstraint("directory_id", "number"),
    sa.Index(None, "directory_id", "name_compact"),
)

# One row per (field, value) of every entry: how any field is searched through an index.
# `unique_key` repeats `key` for unique fields only, so one partial unique index guards
# them. On SQLite the table is its primary key (no rowid): see migration 0004.
entry_values = sa.Table(
    "entry_values",
    metadata,
    sa.Column("field_id", sa.ForeignKey("fields.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", Key, primary_key=True),
    sa.Column("entry_pk", sa.ForeignKey("entries.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("unique_key", Key),
    # An entry's value of one field, found (and sorted on) without touching the table.
    sa.Index(None, "entry_pk", "field_id", "key"),
    sa.Index(
        "uq_entry_values_field_id_unique_key",
        "field_id",
        "unique_key",
        unique=True,
        sqlite_where=sa.text("unique_key IS NOT NULL"),
        postgresql_where=sa.text("unique_key IS NOT NULL"),
    ),
    sqlite_with_rowid=False,
)

# The text index (`store.texts`), as PostgreSQL holds it; SQLite holds it in an FTS5
# table of the same name (migration 0009), which `migrations/env.py` leaves out of the
# comparison with this metadata.
entry_texts = sa.Table(
    "entry_texts",
    metadata,
    sa.Column("entry_pk", sa.ForeignKey("entries.pk", ondelete="CASCADE"), nullable=False),
    sa.Column("field_id", sa.ForeignKey("fields.id", ondelete="CASCADE"), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    # A unique index, not a primary key: `pg_restore --clean` cannot drop a partition's
    # primary key (it is the partitioned table's), and refused to restore a backup.
    sa.Index("uq_entry_texts_entry_pk_field_id", "entry_pk", "field_id", unique=True),
    sa.Index(
        "ix_entry_texts_text",
        "text",
        postgresql_using="gin",
        postgresql_ops={"text": "gin_trgm_ops"},
    ),
    # A partition per directory (`texts.add_partition`, migration 0012).
    postgresql_partition_by="RANGE (entry_pk)",
)
# The start of each text (`texts.START_CHARS`), for "starts with": a trigram index finds
# the starts of words only.
sa.Index(
    "ix_entry_texts_start",
    entry_texts.c.field_id,
    sa.func.left(entry_texts.c.text, 64).label("text_start"),
    postgresql_ops={"text_start": "text_pattern_ops"},
)

history = sa.Table(
    "history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("directory_id", sa.ForeignKey("directories.id"), nullable=False),
    sa.Column("entry_number", sa.Integer, nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("user_id", sa.ForeignKey("users.id")),
    sa.Column("edge", sa.String(20), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("field_code", sa.String(100)),
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Index(None, "directory_id", "entry_number", "id"),
)


def _held_once(holder: str, *, on_directory: bool) -> sa.Index:
    """A holder holds a right (on a directory, or global) once. Four partial indexes, not
    one on the four columns: there a NULL (the holder kind a grant does not use, or the
    directory of a global right) would differ from every other NULL (migration 0007)."""
    where = sa.text(f"directory_id IS {'NOT NULL' if on_directory else 'NULL'}")
    columns = [holder, "right", *(["directory_id"] if on_directory else [])]
    return sa.Index(
        f"uq_grants_{'_'.join(columns)}",
        *columns,
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


grants = sa.Table(
    "grants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("right", sa.String(40), nullable=False),
    sa.Column("directory_id", sa.ForeignKey("directories.id", ondelete="CASCADE")),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE")),
    sa.Column("group_id", sa.ForeignKey("groups.id", ondelete="CASCADE")),
    sa.CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="one_holder"),
    sa.Index(None, "user_id"),
    sa.Index(None, "group_id"),
    *(_held_once(h, on_directory=d) for h in ("user_id", "group_id") for d in (True, False)),
)

issue_properties = sa.Table(
    "issue_properties",
    metadata,
    sa.Column("issue_key", sa.String(255), primary_key=True),
    sa.Column("field_key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("updated_by", sa.ForeignKey("users.id")),
)

issue_links = sa.Table(
    "issue_links",
    metadata,
    sa.Column("issue_key", sa.String(255), primary_key=True),
    sa.Column("field_key", sa.String(255), primary_key=True),
    sa.Column("entry_pk", sa.ForeignKey("entries.pk", ondelete="CASCADE"), primary_key=True),
    sa.Index(None, "entry_pk"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("requested_by", sa.ForeignKey("users.id")),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("started_at", Timestamp),
    sa.Column("finished_at", Timestamp),
    sa.Column("detail", sa.Text, nullable=False),
    # The worker running it and until when; it renews the lease while it runs
    # (`store.jobs`). How many times a worker has taken it up.
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_expires_at", Timestamp),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # At most one job of a kind waits or runs: a second request joins the first.
    sa.Index(
        "uq_jobs_active_kind",
        "kind",
        unique=True,
        sqlite_where=sa.text("status IN ('queued', 'running')"),
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    ),
    sa.Index(None, "status", "id"),
)

# REST API

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("read_only", sa.Boolean, nullable=False),
    sa.Column("directory_ids", sa.JSON),  # None: every directory the user may use
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp),
    sa.Column("last_used_at", Timestamp),
    sa.Column("revoked_at", Timestamp),
    sa.Index(None, "user_id"),
)

# A POST or PATCH with an Idempotency-Key: the first reply, kept so a repeat returns it.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index(None, "created_at"),
)

# Web UI: a signed-in browser. The cookie holds a random token; only its SHA-256 digest is
# kept. `csrf_token` is what the session's forms must send back (not a credential alone).
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Index(None, "user_id"),
)

# Jira: the one connection (a single row), its secret encrypted with a key kept outside
# the database (`services.secrets`).
jira_connection = sa.Table(
    "jira_connection",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("deployment", sa.String(20), nullable=False),
    sa.Column("auth", sa.String(20), nullable=False),
    sa.Column("username", sa.String(255), nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("groups", sa.JSON, nullable=False),
    sa.Column("server_title", sa.String(255), nullable=False),
    sa.Column("server_version", sa.String(64), nullable=False),
    sa.Column("deployment_type", sa.String(64), nullable=False),
    sa.Column("account", sa.String(500), nullable=False),
    sa.Column("connected_at", Timestamp, nullable=False),
    sa.Column("connected_by", sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.CheckConstraint("id = 1", name="single_row"),
)
jira_outbox = sa.Table(
    "jira_outbox",
    metadata,
    # The order writes are made in, and delivered in, per issue.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("issue_key", sa.String(255), nullable=False),
    # The entry the write is about (kept as numbers: the entry may be gone by delivery).
    sa.Column("directory_code", sa.String(64), nullable=False),
    sa.Column("entry_id", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # Not before then: the backoff after a failure, or a worker's claim while it delivers
    # (a worker that died leaves its claim to run out, and the row is taken up again).
    sa.Column("next_attempt_at", Timestamp, nullable=False),
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("last_error_at", Timestamp),
    sa.Column("delivered_at", Timestamp),
    # What waits: by issue (in order), and by time.
    sa.Index(
        "ix_jira_outbox_pending_issue",
        "issue_key",
        "next_attempt_at",
        sqlite_where=sa.text("delivered_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL"),
    ),
    sa.Index(
        "ix_jira_outbox_pending",
        "id",
        sqlite_where=sa.text("delivered_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL"),
    ),
    sa.Index(None, "last_error_at"),
    sa.Index(None, "delivered_at"),
)
