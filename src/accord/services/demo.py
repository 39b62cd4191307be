"""The demo data set: enough to try every example of the legacy API's documentation.

legacy-api.md §5 names what must exist: companies 2 ("Teamlead"), 15 and "Adobe"; contacts
2, 6, "Ted Johnson" and "Vladimir Putin"; a "Colors" dictionary without "Green"; a
multi-dictionary custom field offering Development and Training and a text custom field
on companies; transactions that carry a Jira issue key.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from accord.domain.entries import EntryRef
from accord.domain.errors import AccordError
from accord.domain.schema import COMPANIES, CONTACTS, PRODUCTS, TRANSACTIONS, FieldType
from accord.domain.users import Actor
from accord.domain.values import RawValue
from accord.services import auth, dictionaries, directories, entries, issues, sessions, users
from accord.services.transactions import now
from accord.store import entries as entry_store
from accord.store import instance as instance_store
from accord.store.database import Transaction

DEMO_API_KEY = "accord-demo-key"
ADMIN = "admin"
ADMIN_PASSWORD = "accord-demo-password"
"""The demo administrator's web UI password: public, as the demo API key is."""

_COMPANIES = [
    # name, type, industry, website, SLA
    ("Acme Corporation", "Client", "Manufacturing", "acme.example", "SLA-2 Standard"),
    ("Teamlead", "Partner", "Information Technology", "teamlead.example", "SLA-3 Premium"),
    ("Adobe", "Client", "Information Technology", "adobe.example", "SLA-2 Standard"),
    ("Globex", "Lead", "Finance", "globex.example", "SLA-1 Free"),
    ("Initech", "Client", "Information Technology", "initech.example", "SLA-1 Free"),
    ("Umbrella Health", "Client", "Healthcare", "umbrella.example", "SLA-3 Premium"),
    ("Stark Industries", "Partner", "Manufacturing", "stark.example", "SLA-3 Premium"),
    ("Wayne Enterprises", "Lead", "Finance", "wayne.example", ""),
    ("Hooli", "Competitor", "Information Technology", "hooli.example", ""),
    ("Pied Piper", "Lead", "Information Technology", "piedpiper.example", "SLA-1 Free"),
    ("Vandelay Industries", "Vendor", "Retail", "vandelay.example", ""),
    ("Soylent", "Client", "Retail", "soylent.example", "SLA-2 Standard"),
    ("Cyberdyne Systems", "Lead", "Manufacturing", "cyberdyne.example", ""),
    ("Tyrell Corporation", "Client", "Manufacturing", "tyrell.example", "SLA-2 Standard"),
    ("Oceanic Airlines", "Client", "Telecommunications", "oceanic.example", "SLA-1 Free"),
    ("Northwind Traders", "Client", "Retail", "northwind.example", "SLA-2 Standard"),
]

_CONTACTS = [
    # name, e-mail, position, company, phone
    ("Alice Martin", "alice@acme.example", "CEO", "Acme Corporation", "+1 555 0101"),
    ("Bob Stone", "bob@teamlead.example", "CTO", "Teamlead", "+1 555 0102"),
    ("Carol White", "carol@adobe.example", "Manager", "Adobe", "+1 555 0103"),
    ("Dan Brown", "dan@globex.example", "Sales", "Globex", "+1 555 0104"),
    ("Eve Black", "eve@teamlead.example", "Engineer", "Teamlead", "+1 555 0105"),
    ("Ted Johnson", "ted@oceanic.example", "Manager", "Oceanic Airlines", "+1 555 0106"),
    ("Vladimir Putin", "vladimir@initech.example", "CFO", "Initech", "+1 555 0107"),
    ("Grace Hopper", "grace@stark.example", "Engineer", "Stark Industries", "+1 555 0108"),
    ("Heidi Klum", "heidi@soylent.example", "Sales", "Soylent", ""),
    ("Ivan Petrov", "ivan@teamlead.example", "Manager", "Teamlead", ""),
]

_PRODUCTS = [
    ("Jira Software", "10", "Atlassian", "Development"),
    ("Confluence", "5,5", "Atlassian", "Documentation"),
    ("CRM for Jira", "2.5", "Teamlead", "Sales"),
    ("Accord Support", "100", "Accord", "Services"),
]

_TRANSACTIONS = [
    # date, amount, currency, company, sale, comment
    ("2026-01-15", "1200", "USD", "Acme Corporation", "SALES-1", "Annual licence"),
    ("2026-02-03", "350.50", "EUR", "Teamlead", "SALES-2", "Add-on"),
    ("2026-03-20", "99", "USD", "Adobe", "SALES-1", "Renewal"),
    ("2026-04-01", "5000", "GBP", "Northwind Traders", "SALES-3", "Enterprise deal"),
]


@dataclass(frozen=True, slots=True)
class Demo:
    api_key: str
    admin: str
    admin_password: str


def demo_loaded(tx: Transaction) -> bool:
    return instance_store.demo_loaded(tx.connection)


def load_demo(tx: Transaction) -> Demo:
    """Load the demo data set into an empty database (once)."""
    if demo_loaded(tx):
        raise AccordError("The demo data set is already loaded")
    if any(_has_entries(tx, d.id) for d in tx.schema.directories):
        raise AccordError("The database already holds entries; the demo loads into an empty one")
    system = Actor.system("cli")
    admin = users.add_user(tx, ADMIN, email="admin@accord.example", is_admin=True, actor=system)
    sessions.set_password(tx, ADMIN, ADMIN_PASSWORD, actor=system)
    _people(tx, system)
    auth.set_api_key(tx, DEMO_API_KEY)
    actor = Actor(admin, system.rights, "cli")
    _schema(tx, actor)
    _entries(tx, actor)
    issues.set_crm_properties(tx, "SALES-1", "customfield_10100", "(6),(2)", actor=actor)
    instance_store.mark_demo_loaded(tx.connection, now())
    return Demo(DEMO_API_KEY, ADMIN, ADMIN_PASSWORD)


def _has_entries(tx: Transaction, directory_id: int) -> bool:
    return next(entry_store.stream_entries(tx.connection, directory_id), None) is not None


def _people(tx: Transaction, actor: Actor) -> None:
    users.add_user(tx, "manager", email="manager@accord.example", actor=actor)
    users.add_user(tx, "viewer", email="viewer@accord.example", actor=actor)
    users.add_group(tx, "Sales", actor=actor)
    users.add_members(tx, "Sales", ["manager"], actor=actor)
    for right in (
        "main-menu",
        "dictionaries.add",
        "companies.all",
        "contacts.all",
        "products.view",
        "transactions.view",
    ):
        users.grant(tx, right, group="Sales", actor=actor)
    for right in ("main-menu", "companies.view", "contacts.view"):
        users.grant(tx, right, user="viewer", actor=actor)


def _schema(tx: Transaction, actor: Actor) -> None:
    dictionaries.create_dictionary(tx, "Colors", ["Red", "Blue", "Yellow"], actor=actor)
    dictionaries.create_dictionary(
        tx, "Services", ["Development", "Training", "Consulting", "Support"], actor=actor
    )
    directories.add_field(
        tx,
        COMPANIES,
        "Services",
        FieldType.DICTIONARY,
        dictionary="Services",
        multiple=True,
        actor=actor,
    )
    directories.add_field(tx, COMPANIES, "Notes", FieldType.TEXT, actor=actor)
    directories.add_field(
        tx, PRODUCTS, "Color", FieldType.DICTIONARY, dictionary="Colors", actor=actor
    )


def _entries(tx: Transaction, actor: Actor) -> None:
    codes = {
        COMPANIES: ("org_name", "org_type", "org_industry", "org_www", "org_sla"),
        CONTACTS: (
            "contact_name",
            "contact_email",
            "contact_position",
            "contact_company",
            "contact_phone",
        ),
        PRODUCTS: ("product_name", "product_price", "product_vendor", "product_area"),
        TRANSACTIONS: (
            "transaction_date",
            "transaction_amount",
            "transaction_currency",
            "transaction_company",
            "transaction_sale",
            "transaction_comment",
        ),
    }
    rows: dict[str, Sequence[tuple[str, ...]]] = {
        COMPANIES: _COMPANIES,
        CONTACTS: _CONTACTS,
        PRODUCTS: _PRODUCTS,
        TRANSACTIONS: _TRANSACTIONS,
    }
    for code, directory_rows in rows.items():
        directory = tx.schema.directory_by_code(code)
        for row in directory_rows:
            inputs = [
                (tx.schema.field(directory, field_code), RawValue(value))
                for field_code, value in zip(codes[code], row, strict=True)
                if value
            ]
            entries.create_entry(tx, directory, inputs, actor=actor)
    companies = tx.schema.directory_by_code(COMPANIES)
    main_contact = tx.schema.field(companies, "org_contact")
    entries.update_entry(
        tx, companies, EntryRef(id=2), [(main_contact, RawValue("Bob Stone"))], actor=actor
    )
