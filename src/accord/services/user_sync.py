"""What a user sync does with the users Jira listed: each becomes an Accord user (by its
Jira key, else its login) and, if active, a contact (by login, then e-mail, either case;
else created). Accord users of Jira users inactive or no longer listed are disabled.
Nothing is deleted, and a second run with the same users changes nothing.

Written in chunks: new users in one statement, contacts through `batches` (the rows and
history single writes would leave, at a fraction of the cost).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field

from accord.domain.entries import Entry
from accord.domain.errors import AccordError, Conflict
from accord.domain.schema import CONTACTS, Directory, Field
from accord.domain.text import fold
from accord.domain.users import Actor, User
from accord.domain.values import index_keys
from accord.services import batches
from accord.services.jira import JiraUser, SyncProgress
from accord.services.transactions import CacheKind, now
from accord.store import entries as entry_store
from accord.store import users as user_store
from accord.store.database import Transaction

CHUNK = batches.MAX_ITEMS
MAX_ERRORS_KEPT = 10
SYNC_ACTOR = Actor.system("jira-sync")


@dataclass(slots=True)
class SyncCounts:
    users: int = 0
    users_created: int = 0
    users_updated: int = 0
    users_disabled: int = 0
    contacts_created: int = 0
    contacts_matched: int = 0
    contacts_updated: int = 0
    errors: int = 0
    first_errors: list[str] = dataclass_field(default_factory=list)

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.first_errors) < MAX_ERRORS_KEPT:
            self.first_errors.append(message[:300])

    def summary(self) -> str:
        text = (
            f"{self.users} Jira users: {self.users_created} users created, "
            f"{self.users_updated} updated, {self.users_disabled} disabled; contacts: "
            f"{self.contacts_created} created, {self.contacts_updated} updated, "
            f"{self.contacts_matched} matched; {self.errors} errors"
        )
        return text + "".join(f"; {e}" for e in self.first_errors)


def sync_users(
    tx: Transaction, jira_users: Sequence[JiraUser], *, progress: SyncProgress | None = None
) -> SyncCounts:
    """Make each Jira user an Accord user and (if active) a contact; disable the Accord
    users of Jira users no longer listed or inactive. Deletes nothing."""
    counts = SyncCounts(users=len(jira_users))
    known = _Users(user_store.all_users(tx.connection))
    contacts = _Contacts.of(tx)
    for start in range(0, len(jira_users), CHUNK):
        chunk = jira_users[start : start + CHUNK]
        people: list[JiraUser] = []
        for jira_user in chunk:
            try:
                known.sync(tx, jira_user, counts)
            except AccordError as error:
                counts.error(f"{jira_user.login}: {error.message}")
                continue
            if jira_user.active:
                people.append(jira_user)
        known.insert_new(tx, counts)
        if contacts is not None:
            contacts.plan(people, counts)
            contacts.write(counts)
        if progress is not None:
            progress(start + len(chunk), len(jira_users))
    counts.users_disabled = known.disable_unlisted(tx, {u.key for u in jira_users})
    tx.changed(CacheKind.AUTH)
    return counts


class _Users:
    """Accord's users, read once, by Jira key and by login."""

    def __init__(self, users: Sequence[User]) -> None:
        self.by_key = {u.jira_key: u for u in users if u.jira_key is not None}
        self.by_login = {fold(u.login): u for u in users}
        self.new: list[dict[str, object]] = []
        self.new_logins: set[str] = set()

    def sync(self, tx: Transaction, jira_user: JiraUser, counts: SyncCounts) -> None:
        user = self.by_key.get(jira_user.key)
        if user is None:
            user = self.by_login.get(fold(jira_user.login))
            if user is not None and user.jira_key is not None:
                raise Conflict(f"login {jira_user.login} belongs to another Jira user")
        wanted: dict[str, object] = {
            "login": jira_user.login,
            "email": jira_user.email or ("" if user is None else user.email),
            "display_name": jira_user.display_name,
            "jira_key": jira_user.key,
            "is_active": jira_user.active,
        }
        if user is None:
            if fold(jira_user.login) in self.new_logins:
                raise Conflict(f"login {jira_user.login} is listed twice by Jira")
            self.new.append(wanted)
            self.new_logins.add(fold(jira_user.login))
            return
        changes = {k: v for k, v in wanted.items() if getattr(user, k) != v}
        if not changes:
            return
        renamed = fold(jira_user.login) != fold(user.login)
        holder = self.by_login.get(fold(jira_user.login))
        if renamed and (
            (holder is not None and holder.id != user.id)
            or fold(jira_user.login) in self.new_logins
        ):
            raise Conflict(f"login {jira_user.login} belongs to another user")
        user_store.update_user(tx.connection, user.id, **changes)
        counts.users_updated += 1
        updated = replace(user, **changes)  # type: ignore[arg-type]
        if renamed:
            self.by_login.pop(fold(user.login), None)
        self.by_login[fold(updated.login)] = updated
        self.by_key[jira_user.key] = updated

    def insert_new(self, tx: Transaction, counts: SyncCounts) -> None:
        for user in user_store.insert_users(tx.connection, self.new, at=now()):
            self.by_login[fold(user.login)] = user
            if user.jira_key is not None:
                self.by_key[user.jira_key] = user
        counts.users_created += len(self.new)
        self.new, self.new_logins = [], set()

    def disable_unlisted(self, tx: Transaction, listed: set[str]) -> int:
        gone = [u for key, u in self.by_key.items() if key not in listed and u.is_active]
        for user in gone:
            user_store.set_user_active(tx.connection, user.id, False)
        return len(gone)


@dataclass(slots=True)
class _Contacts:
    """The contacts directory and its name, e-mail and login fields, and the writes a
    chunk of users calls for."""

    tx: Transaction
    directory: Directory
    email: Field | None
    login: Field | None
    creates: list[dict[str, object]] = dataclass_field(default_factory=list)
    updates: list[dict[str, object]] = dataclass_field(default_factory=list)

    @classmethod
    def of(cls, tx: Transaction) -> "_Contacts | None":
        schema = tx.schema
        directory = schema.directory_by_code(CONTACTS)
        if schema.field_by_code(directory, "contact_name") is None:
            return None
        email = schema.field_by_code(directory, "contact_email")
        login = schema.field_by_code(directory, "contact_login")
        return cls(tx, directory, email, login)

    def plan(self, people: Sequence[JiraUser], counts: SyncCounts) -> None:
        """Match each user's contact by login, then e-mail (either case), else plan one;
        plan to fill in a matched contact's empty login or e-mail, and nothing else."""
        by_login = _Lookup(self.tx, self.login, [u.login for u in people])
        by_email = _Lookup(self.tx, self.email, [u.email for u in people])
        for jira_user in people:
            entry = by_login.find(jira_user.login) or by_email.find(jira_user.email)
            if entry is None:
                name = jira_user.display_name or jira_user.login
                self.creates.append({"contact_name": name, **self._missing(None, jira_user)})
                continue
            counts.contacts_matched += 1
            missing = self._missing(entry.values, jira_user)
            if missing:
                self.updates.append({"id": entry.id, **missing})

    def write(self, counts: SyncCounts) -> None:
        for items, mode in (
            (self.creates, batches.Mode.CREATE),
            (self.updates, batches.Mode.UPDATE),
        ):
            if not items:
                continue
            outcomes = batches.write_batch(
                self.tx, self.directory, items, mode=mode, actor=SYNC_ACTOR
            )
            for outcome in outcomes:
                if outcome.error is not None:
                    counts.error(f"contact {items[outcome.index]}: {outcome.error.message}")
                elif mode is batches.Mode.CREATE:
                    counts.contacts_created += 1
                else:
                    counts.contacts_updated += 1
        self.creates, self.updates = [], []

    def _missing(
        self, values: Mapping[str, object] | None, jira_user: JiraUser
    ) -> dict[str, object]:
        """The login and e-mail the contact lacks and the Jira user has."""
        missing: dict[str, object] = {}
        for field, value in ((self.login, jira_user.login), (self.email, jira_user.email)):
            if (
                field is not None
                and value
                and (values is None or values.get(field.code) in (None, ""))
            ):
                missing[field.code] = value
        return missing


class _Lookup:
    """The entries holding each of some values of a field (lowest id first), read at once."""

    def __init__(self, tx: Transaction, field: Field | None, values: Sequence[str]) -> None:
        self.field = field
        self.found: dict[str, Entry] = {}
        if field is not None:
            keys = [k for v in values if v.strip() for k in index_keys(field, v.strip())]
            self.found = entry_store.first_entries_with_keys(tx.connection, field.id, keys)

    def find(self, value: str) -> Entry | None:
        if self.field is None or not value.strip():
            return None
        for key in index_keys(self.field, value.strip()):
            if key in self.found:
                return self.found[key]
        return None
