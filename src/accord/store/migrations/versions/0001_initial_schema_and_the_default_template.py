"""initial schema and the default template

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Builds every table and seeds the default template: the four built-in directories with
the field codes and names of the legacy API (legacy-api.md §3), their dictionaries, and the
instance row. The template is written out here, not imported, so that this migration
stays what it was when it shipped.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Index keys compare byte by byte on every database (PostgreSQL: the "C" collation).
_KEY = sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dictionaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_key", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dictionaries")),
        sa.UniqueConstraint("name_key", name=op.f("uq_dictionaries_name_key")),
    )
    op.create_table(
        "directories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_field", sa.String(length=100), nullable=False),
        sa.Column("builtin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("next_number", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directories")),
        sa.UniqueConstraint("code", name=op.f("uq_directories_code")),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_key", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("name_key", name=op.f("uq_groups_name_key")),
    )
    op.create_table(
        "instance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_hash", sa.String(length=64), nullable=True),
        sa.Column("schema_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("auth_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("demo_loaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_instance_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=255), nullable=False),
        sa.Column("login_key", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("jira_key", sa.String(length=255), nullable=True),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("jira_key", name=op.f("uq_users_jira_key")),
        sa.UniqueConstraint("login_key", name=op.f("uq_users_login_key")),
    )
    op.create_table(
        "dictionary_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dictionary_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=1000), nullable=False),
        sa.Column("label_key", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dictionary_id"],
            ["dictionaries.id"],
            name=op.f("fk_dictionary_values_dictionary_id_dictionaries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dictionary_values")),
        sa.UniqueConstraint(
            "dictionary_id", "label_key", name=op.f("uq_dictionary_values_dictionary_id_label_key")
        ),
    )
    op.create_table(
        "entries",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("directory_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_compact", sa.String(length=200), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_entries_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["directory_id"], ["directories.id"], name=op.f("fk_entries_directory_id_directories")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_entries_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_entries")),
        sa.UniqueConstraint("directory_id", "number", name=op.f("uq_entries_directory_id_number")),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_entries_directory_id_name_compact"),
            ["directory_id", "name_compact"],
            unique=False,
        )

    op.create_table(
        "fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("directory_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("multiple", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("unique", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("auto_create", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("dictionary_id", sa.Integer(), nullable=True),
        sa.Column("target_directory_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dictionary_id"],
            ["dictionaries.id"],
            name=op.f("fk_fields_dictionary_id_dictionaries"),
        ),
        sa.ForeignKeyConstraint(
            ["directory_id"], ["directories.id"], name=op.f("fk_fields_directory_id_directories")
        ),
        sa.ForeignKeyConstraint(
            ["target_directory_id"],
            ["directories.id"],
            name=op.f("fk_fields_target_directory_id_directories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fields")),
        sa.UniqueConstraint("directory_id", "code", name=op.f("uq_fields_directory_id_code")),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("right", sa.String(length=40), nullable=False),
        sa.Column("directory_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (group_id IS NULL)", name=op.f("ck_grants_one_holder")
        ),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name=op.f("fk_grants_directory_id_directories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_grants_group_id_groups"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_grants_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grants_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grants_user_id"), ["user_id"], unique=False)

    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_members_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_members")),
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("directory_id", sa.Integer(), nullable=False),
        sa.Column("entry_number", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("edge", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("field_code", sa.String(length=100), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["directory_id"], ["directories.id"], name=op.f("fk_history_directory_id_directories")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_history_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
    )
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_history_directory_id_entry_number_id"),
            ["directory_id", "entry_number", "id"],
            unique=False,
        )

    op.create_table(
        "issue_properties",
        sa.Column("issue_key", sa.String(length=255), nullable=False),
        sa.Column("field_key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_issue_properties_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("issue_key", "field_key", name=op.f("pk_issue_properties")),
    )
    op.create_table(
        "jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_jobs_requested_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_status_id"), ["status", "id"], unique=False)
        batch_op.create_index(
            "uq_jobs_active_kind",
            ["kind"],
            unique=True,
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )

    op.create_table(
        "entry_values",
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("key", _KEY, nullable=False),
        sa.Column("entry_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("unique_key", _KEY, nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_pk"],
            ["entries.pk"],
            name=op.f("fk_entry_values_entry_pk_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["fields.id"],
            name=op.f("fk_entry_values_field_id_fields"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("field_id", "key", "entry_pk", name=op.f("pk_entry_values")),
        sa.UniqueConstraint(
            "field_id", "unique_key", name=op.f("uq_entry_values_field_id_unique_key")
        ),
    )
    with op.batch_alter_table("entry_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entry_values_entry_pk"), ["entry_pk"], unique=False)

    op.create_table(
        "issue_links",
        sa.Column("issue_key", sa.String(length=255), nullable=False),
        sa.Column("field_key", sa.String(length=255), nullable=False),
        sa.Column("entry_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_pk"],
            ["entries.pk"],
            name=op.f("fk_issue_links_entry_pk_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("issue_key", "field_key", "entry_pk", name=op.f("pk_issue_links")),
    )
    with op.batch_alter_table("issue_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issue_links_entry_pk"), ["entry_pk"], unique=False)

    _forbid_history_changes()
    _seed_default_template()


def downgrade() -> None:
    _allow_history_changes()
    with op.batch_alter_table("issue_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issue_links_entry_pk"))

    op.drop_table("issue_links")
    with op.batch_alter_table("entry_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entry_values_entry_pk"))

    op.drop_table("entry_values")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_jobs_active_kind",
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )
        batch_op.drop_index(batch_op.f("ix_jobs_status_id"))

    op.drop_table("jobs")
    op.drop_table("issue_properties")
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_history_directory_id_entry_number_id"))

    op.drop_table("history")
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_members_user_id"))

    op.drop_table("group_members")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grants_user_id"))
        batch_op.drop_index(batch_op.f("ix_grants_group_id"))

    op.drop_table("grants")
    op.drop_table("fields")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entries_directory_id_name_compact"))

    op.drop_table("entries")
    op.drop_table("dictionary_values")
    op.drop_table("users")
    op.drop_table("instance")
    op.drop_table("groups")
    op.drop_table("directories")
    op.drop_table("dictionaries")


def _forbid_history_changes() -> None:
    """The history is append-only: the database itself refuses to change or drop a row."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'history is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history "
            "FOR EACH ROW EXECUTE FUNCTION history_is_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER history_no_{event.lower()} BEFORE {event} ON history "
                "BEGIN SELECT RAISE(ABORT, 'history is append-only'); END"
            )


def _allow_history_changes() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER history_append_only ON history")
        op.execute("DROP FUNCTION history_is_append_only()")
    else:
        op.execute("DROP TRIGGER history_no_update")
        op.execute("DROP TRIGGER history_no_delete")


_DICTIONARIES = {
    "Type": ["Client", "Partner", "Lead", "Vendor", "Competitor"],
    "Industry": [
        "Consulting",
        "Education",
        "Finance",
        "Government",
        "Healthcare",
        "Information Technology",
        "Manufacturing",
        "Retail",
        "Telecommunications",
    ],
    "SLA": ["SLA-1 Free", "SLA-2 Standard", "SLA-3 Premium"],
    "Position": ["CEO", "CTO", "CFO", "Manager", "Engineer", "Sales"],
    "Currency": ["USD", "EUR", "GBP", "RUB", "JPY"],
}

# code, display name, name field; then its fields: code, name, type, options.
_FieldSpec = tuple[str, str, str, dict[str, Any]]
_DIRECTORIES: list[tuple[str, str, str, list[_FieldSpec]]] = [
    (
        "CLIENTS",
        "Companies",
        "org_name",
        [
            ("org_name", "Company name", "text", {"required": True, "unique": True}),
            ("org_type", "Type", "dictionary", {"dictionary": "Type"}),
            ("org_industry", "Industry", "dictionary", {"dictionary": "Industry"}),
            ("org_www", "Website", "url", {}),
            ("org_sla", "SLA", "dictionary", {"dictionary": "SLA"}),
            ("org_contact", "Main contact", "link", {"target": "CONTACTS"}),
            ("org_people", "Contacts", "contacts", {}),
        ],
    ),
    (
        "CONTACTS",
        "Contacts",
        "contact_name",
        [
            ("contact_name", "Full name", "text", {"required": True}),
            ("contact_email", "E-mail", "email", {}),
            ("contact_position", "Position", "position", {"dictionary": "Position"}),
            ("contact_login", "Jira login", "text", {}),
            ("contact_company", "Company", "link", {"target": "CLIENTS", "auto_create": True}),
            ("contact_phone", "Phone", "text", {}),
        ],
    ),
    (
        "PRODUCTS",
        "Products",
        "product_name",
        [
            ("product_name", "Product Name", "text", {"required": True, "unique": True}),
            ("product_price", "Price", "number", {}),
            ("product_vendor", "Vendor", "text", {}),
            ("product_area", "Area", "text", {}),
        ],
    ),
    (
        "TRANSACTIONS",
        "Transactions",
        "transaction_sale",
        [
            ("transaction_date", "Date", "date", {}),
            ("transaction_amount", "Amount", "number", {}),
            ("transaction_currency", "Currency", "dictionary", {"dictionary": "Currency"}),
            ("transaction_company", "Company", "link", {"target": "CLIENTS"}),
            ("transaction_sale", "Sale", "text", {}),
            ("transaction_comment", "Comment", "text", {}),
        ],
    ),
]


def _seed_default_template() -> None:
    meta = sa.MetaData()
    instance = sa.Table("instance", meta, autoload_with=op.get_bind())
    directories = sa.Table("directories", meta, autoload_with=op.get_bind())
    fields = sa.Table("fields", meta, autoload_with=op.get_bind())
    dictionaries = sa.Table("dictionaries", meta, autoload_with=op.get_bind())
    values = sa.Table("dictionary_values", meta, autoload_with=op.get_bind())

    op.bulk_insert(instance, [{"id": 1, "schema_version": 1, "auth_version": 1}])
    dictionary_ids: dict[str, int] = {}
    for dictionary_id, name in enumerate(_DICTIONARIES, start=1):
        dictionary_ids[name] = dictionary_id
        op.bulk_insert(
            dictionaries, [{"id": dictionary_id, "name": name, "name_key": name.casefold()}]
        )
    value_id = 0
    for name, labels in _DICTIONARIES.items():
        rows = []
        for position, label in enumerate(labels, start=1):
            value_id += 1
            rows.append(
                {
                    "id": value_id,
                    "dictionary_id": dictionary_ids[name],
                    "label": label,
                    "label_key": label.casefold(),
                    "position": position,
                }
            )
        op.bulk_insert(values, rows)

    directory_ids = {code: i for i, (code, *_) in enumerate(_DIRECTORIES, start=1)}
    op.bulk_insert(
        directories,
        [
            {
                "id": directory_ids[code],
                "code": code,
                "name": name,
                "name_field": name_field,
                "builtin": True,
                "next_number": 1,
            }
            for code, name, name_field, _ in _DIRECTORIES
        ],
    )
    field_rows: list[dict[str, Any]] = []
    for code, _, _, directory_fields in _DIRECTORIES:
        for position, (field_code, name, kind, options) in enumerate(directory_fields, start=1):
            field_rows.append(
                {
                    "id": len(field_rows) + 1,
                    "directory_id": directory_ids[code],
                    "code": field_code,
                    "name": name,
                    "type": kind,
                    "multiple": False,
                    "required": options.get("required", False),
                    "unique": options.get("unique", False),
                    "auto_create": options.get("auto_create", False),
                    "dictionary_id": dictionary_ids.get(options.get("dictionary", "")),
                    "target_directory_id": directory_ids.get(options.get("target", "")),
                    "position": position,
                }
            )
    op.bulk_insert(fields, field_rows)
    if op.get_context().dialect.name == "postgresql":
        # Explicit ids above leave the sequences behind; move them past the seeded rows.
        for table in ("dictionaries", "dictionary_values", "directories", "fields"):
            op.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
