"""How values that name things (entries, users, groups, labels) find them in the store."""

from collections.abc import Callable

from accord.domain import writes
from accord.domain.entries import Entry
from accord.domain.errors import DictionaryValueExists, InvalidValue
from accord.domain.rights import Rights
from accord.domain.schema import Dictionary, Directory, Field
from accord.domain.text import fold, has_invalid_characters, index_key
from accord.domain.users import Actor
from accord.store import bulk
from accord.store import entries as entry_store
from accord.store import schema as schema_store
from accord.store import users as user_store
from accord.store.database import CacheKind, Transaction

NAMES_ANY_ENTRY = frozenset({"legacy"})
"""Edges whose contract lets a link value name an entry of a directory the caller may not
view (`values.require_link_rights` is not applied): the legacy API's. Its spec gives
`addcontact` naming an existing company the right contacts.add alone (section 3.1:
only a company it would create takes companies.add), and its caller holds the instance's
key, which acts as any user, so it has nothing to learn from the answer."""

CreateNamed = Callable[[Directory, str], int]
"""Creates an entry with just a name in a directory; returns its id."""


class StoreResolver:
    """The domain's Resolver over one transaction, acting for one user.

    Creating entries is the caller's to provide (`create`), so that this module does
    not depend on the entries service that depends on it.
    """

    def __init__(self, tx: Transaction, actor: Actor, create: CreateNamed | None = None) -> None:
        self.tx = tx
        self.actor = actor
        self._create = create

    @property
    def link_rights(self) -> Rights | None:
        return None if self.actor.edge in NAMES_ANY_ENTRY else self.actor.rights

    def entry_exists(self, directory: Directory, entry_id: int) -> bool:
        return entry_store.entry_exists(self.tx.connection, directory.id, entry_id)

    def entries_named(self, directory: Directory, name: str) -> list[int]:
        if has_invalid_characters(name):
            return []  # no stored name holds undecodable bytes or control characters
        field = self.tx.schema.name_field(directory)
        return entry_store.numbers_with_key(self.tx.connection, field.id, _key(name))

    def entry_named(self, directory: Directory, name: str) -> int | None:
        if has_invalid_characters(name):
            return None
        exact = self.entries_named(directory, name)
        if exact:
            return exact[0]
        return self._loosely_named(directory, name)

    def find_entry_named(self, directory: Directory, name: str) -> Entry | None:
        """The entry `entry_named` names, read by the statement that finds it when the
        name is exact (a point read by name: one statement, not two)."""
        if has_invalid_characters(name):
            return None
        field = self.tx.schema.name_field(directory)
        found = entry_store.first_entry_with_key(self.tx.connection, field.id, _key(name))
        if found is not None:
            return found
        number = self._loosely_named(directory, name)
        if number is None:
            return None
        return entry_store.fetch_entry(self.tx.connection, directory.id, number)

    def _loosely_named(self, directory: Directory, name: str) -> int | None:
        compact = writes.name_key(name)
        if not compact:
            return None
        loose = entry_store.numbers_with_compact_name(self.tx.connection, directory.id, compact)
        return loose[0] if loose else None

    def user_id(self, login: str) -> int | None:
        if has_invalid_characters(login):
            return None
        user = user_store.find_user(self.tx.connection, login)
        return None if user is None else user.id

    def group_id(self, name: str) -> int | None:
        if has_invalid_characters(name):
            return None
        group = user_store.find_group(self.tx.connection, name)
        return None if group is None else group.id

    def create_named(self, field: Field, directory: Directory, name: str) -> int:
        """The entry named `name` that another writer created since this one looked
        (a request naming the same new company at once), else a new one."""
        if self._create is None:  # pragma: no cover - only readers are built without it
            raise InvalidValue(field.name, name)
        created = self._created_meanwhile(directory, name)
        return self._create(directory, name) if created is None else created

    def _created_meanwhile(self, directory: Directory, name: str) -> int | None:
        # A transaction still running when `entry_named` looked may be creating this very
        # name (PostgreSQL): wait for the creators of the directory's entries, as a batch
        # upsert does, and look again. Still missing: this transaction keeps the
        # directory's id counter, so no one else creates the name before it commits.
        # Whatever the name field (unique or not), one entry gets the name, not two.
        name_field = self.tx.schema.name_field(directory)
        bulk.wait_for_creators_of_keys(
            self.tx.connection, directory.id, name_field.id, [_key(name)]
        )
        return self.entry_named(directory, name)

    def add_position(self, dictionary: Dictionary, label: str) -> int:
        """Add `label` to the Position dictionary; the label another writer added since
        this one looked (a request naming the same new position at once) is taken as is."""
        try:
            with bulk.savepoint(self.tx.connection):
                value_id = schema_store.insert_dictionary_value(
                    self.tx.connection, dictionary.id, label
                )
        except bulk.Refused:
            # The label's unique key: another transaction added it and committed (PostgreSQL
            # waits for it to end before refusing), so the schema read again holds it.
            value_id = self._added_meanwhile(dictionary, label)
        self.tx.changed(CacheKind.SCHEMA)
        return value_id

    def _added_meanwhile(self, dictionary: Dictionary, label: str) -> int:
        self.tx.changed(CacheKind.SCHEMA)  # the schema is read again, with what is committed now
        found = self.tx.schema.dictionary(dictionary.id).find_value(label, by_id=False)
        if found is None:  # pragma: no cover - added and removed meanwhile
            raise DictionaryValueExists(label, dictionary.name)
        return found.id


def _key(name: str) -> str:
    return index_key(fold(name.strip()))
