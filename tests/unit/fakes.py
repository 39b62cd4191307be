"""A schema and an in-memory Lookup for unit tests of the pure domain rules."""

from accord.domain.rights import Rights
from accord.domain.schema import (
    Dictionary,
    DictionaryValue,
    Directory,
    Field,
    FieldType,
    Schema,
)

COMPANIES = Directory(1, "CLIENTS", "Companies", "org_name", builtin=True)
CONTACTS = Directory(2, "CONTACTS", "Contacts", "contact_name", builtin=True)
PRODUCTS = Directory(3, "PRODUCTS", "Products", "product_name", builtin=True)

INDUSTRY = Dictionary(
    1, "Industry", (DictionaryValue(10, 1, "Consulting"), DictionaryValue(11, 1, "Retail"))
)
SERVICES = Dictionary(
    2, "Services", (DictionaryValue(20, 2, "Development"), DictionaryValue(21, 2, "Training"))
)
POSITION = Dictionary(3, "Position", (DictionaryValue(30, 3, "CEO"),))


def _field(
    id_: int, directory: Directory, code: str, name: str, kind: FieldType, **options: object
) -> Field:
    return Field(id_, directory.id, code, name, kind, position=id_, **options)


FIELDS = {
    "org_name": _field(
        1, COMPANIES, "org_name", "Company name", FieldType.TEXT, required=True, unique=True
    ),
    "org_industry": _field(
        2, COMPANIES, "org_industry", "Industry", FieldType.DICTIONARY, dictionary_id=1
    ),
    "org_www": _field(3, COMPANIES, "org_www", "Website", FieldType.URL),
    "services": _field(
        4,
        COMPANIES,
        "clients_field_s",
        "Services",
        FieldType.DICTIONARY,
        dictionary_id=2,
        multiple=True,
    ),
    "org_people": _field(5, COMPANIES, "org_people", "Contacts", FieldType.CONTACTS),
    "founded": _field(6, COMPANIES, "clients_field_d", "Founded", FieldType.DATE),
    "vip": _field(7, COMPANIES, "clients_field_v", "VIP", FieldType.CHECKBOX),
    "revenue": _field(8, COMPANIES, "clients_field_r", "Revenue", FieldType.NUMBER),
    "contact_name": _field(9, CONTACTS, "contact_name", "Full name", FieldType.TEXT, required=True),
    "contact_email": _field(10, CONTACTS, "contact_email", "E-mail", FieldType.EMAIL),
    "contact_position": _field(
        11, CONTACTS, "contact_position", "Position", FieldType.POSITION, dictionary_id=3
    ),
    "contact_company": _field(
        12,
        CONTACTS,
        "contact_company",
        "Company",
        FieldType.LINK,
        target_directory_id=1,
        auto_create=True,
    ),
    "partners": _field(
        13,
        COMPANIES,
        "clients_field_p",
        "Partners",
        FieldType.LINK,
        target_directory_id=1,
        multiple=True,
    ),
    "owner": _field(14, COMPANIES, "clients_field_o", "Owner", FieldType.USER),
    "created": _field(15, COMPANIES, "clients_field_c", "Created", FieldType.CREATED_AT),
    "product_name": _field(16, PRODUCTS, "product_name", "Product Name", FieldType.TEXT),
}

SCHEMA = Schema(
    1, (COMPANIES, CONTACTS, PRODUCTS), tuple(FIELDS.values()), (INDUSTRY, SERVICES, POSITION)
)


class MemoryLookup:
    """Entries by (directory id, id) -> name; remembers what it was asked to create."""

    link_rights: Rights | None = None  # links may name entries anywhere

    def __init__(self, entries: dict[tuple[int, int], str] | None = None) -> None:
        self.entries = dict(entries or {})
        self.users = {"admin": 1, "alice": 2}
        self.created: list[tuple[str, str]] = []
        self.positions: list[str] = []

    def entry_exists(self, directory: Directory, entry_id: int) -> bool:
        return (directory.id, entry_id) in self.entries

    def entries_named(self, directory: Directory, name: str) -> list[int]:
        return sorted(
            i
            for (d, i), n in self.entries.items()
            if d == directory.id and n.casefold() == name.strip().casefold()
        )

    def entry_named(self, directory: Directory, name: str) -> int | None:
        found = self.entries_named(directory, name)
        return found[0] if found else None

    def user_id(self, login: str) -> int | None:
        return self.users.get(login.casefold())

    def group_id(self, name: str) -> int | None:
        return None

    def create_named(self, field: Field, directory: Directory, name: str) -> int:
        new_id = max((i for d, i in self.entries if d == directory.id), default=0) + 1
        self.entries[(directory.id, new_id)] = name
        self.created.append((directory.code, name))
        return new_id

    def add_position(self, dictionary: Dictionary, label: str) -> int:
        self.positions.append(label)
        return 99
