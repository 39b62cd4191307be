"""Jira issues seen from the CRM: per-issue CRM properties, and the entries linked to
issues, each in a role (the key of the CRM field that links it, as `setcrmproperties`
names it)."""

import re
from dataclasses import dataclass

from accord.domain.entries import Entry
from accord.domain.errors import (
    Conflict,
    EntryNotFound,
    InvalidParameter,
    LinkNotFound,
    ParameterRequired,
)
from accord.domain.rights import Action, GlobalRight
from accord.domain.schema import CONTACTS, Directory
from accord.domain.text import has_invalid_characters, printable
from accord.domain.users import Actor
from accord.domain.values import entry_reference
from accord.services import outbox
from accord.services.jira import JiraGateway
from accord.services.resolver import StoreResolver
from accord.services.transactions import now
from accord.store import entries as entry_store
from accord.store import issues as store
from accord.store.database import Transaction

_ISSUE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}-[0-9]{1,18}")
MAX_FIELD_KEY_LENGTH = 255
MAX_ISSUE_KEY_LENGTH = 119
"""The longest key `PROJ-123` takes: a project key of 100 characters, `-`, 18 digits."""


@dataclass(frozen=True, slots=True)
class IssueLink:
    """An entry linked to an issue, in a role (the key of the CRM field that links it)."""

    issue_key: str
    directory: Directory
    entry_id: int
    name: str
    role: str


def set_crm_properties(
    tx: Transaction,
    issue_key: str,
    field_key: str,
    value: str,
    *,
    actor: Actor,
    jira: JiraGateway | None = None,
) -> None:
    """Set an issue's CRM field to the contacts `value` names (`(id)`, id or name, by commas).

    Kept in Accord; the contacts it links gain a remote link on the issue, and those it
    no longer links lose theirs, through the outbox (`services.outbox`).
    """
    actor.rights.require(GlobalRight.MAIN_MENU)
    issue_key, field_key = _issue_key(issue_key), _field_key(field_key, "customFieldId")
    if len(value) > 10_000 or has_invalid_characters(value):
        raise InvalidParameter("value", value)
    rows = _contact_rows(tx, actor, value)
    before = outbox.linked_entries(tx, issue_key)
    store.set_property(
        tx.connection,
        issue_key,
        field_key,
        value.strip(),
        entry_rows=rows,
        at=now(),
        by=actor.user_id,
    )
    outbox.links_changed(tx, issue_key, before)
    if jira is not None:
        jira.set_issue_property(issue_key, field_key, value.strip())


def contact_emails(tx: Transaction, issue_key: str, field_key: str, *, actor: Actor) -> list[str]:
    """The e-mail addresses of the contacts an issue's CRM field names, by contact id."""
    actor.rights.require(GlobalRight.MAIN_MENU)
    issue_key, field_key = _issue_key(issue_key), _field_key(field_key, "customFieldId")
    contacts = tx.schema.directory_by_code(CONTACTS)
    found = store.linked_values(tx.connection, issue_key, field_key, contacts.id, "contact_email")
    return [email for email in found if isinstance(email, str) and email]


def issue_links(tx: Transaction, issue_key: str, *, actor: Actor) -> list[IssueLink]:
    """The entries linked to an issue, in every role, of the directories the actor may
    view (by directory, id, role); none for an issue nothing is linked to."""
    actor.rights.require(GlobalRight.MAIN_MENU)
    issue_key = _issue_key(issue_key, "key")
    found = (_link(tx, link) for link in store.links_of_issue(tx.connection, issue_key))
    return [link for link in found if actor.rights.can(Action.VIEW, link.directory)]


def entry_issues(
    tx: Transaction, directory: Directory, entry_id: int, *, actor: Actor
) -> list[IssueLink]:
    """The issues an entry is linked to, in every role (by issue key, role);
    EntryNotFound if there is no such entry."""
    actor.rights.require(GlobalRight.MAIN_MENU)
    actor.rights.require_on(Action.VIEW, directory)
    entry = _entry(tx, directory, entry_id)
    return [_link(tx, link) for link in store.links_of_entry(tx.connection, entry.row)]


def link_entry(
    tx: Transaction, issue_key: str, directory: Directory, entry_id: int, role: str, *, actor: Actor
) -> tuple[IssueLink, bool]:
    """Link an entry to an issue in `role` (edit right on its directory); the link, and
    whether it is new (linking it again changes nothing). As `set_crm_properties`: the
    role's property records who changed it and when, and Jira gets the entry's remote
    link through the outbox."""
    actor.rights.require(GlobalRight.MAIN_MENU)
    actor.rights.require_on(Action.EDIT, directory)
    issue_key, role = _issue_key(issue_key, "key"), _field_key(role, "role")
    entry = _entry(tx, directory, entry_id)
    before = outbox.linked_entries(tx, issue_key)
    added = store.add_link(tx.connection, issue_key, role, entry.row)
    if added:
        _record(tx, issue_key, [role], actor)
        outbox.links_changed(tx, issue_key, before)
    links = store.links_of_entry(tx.connection, entry.row)
    found = next((k for k in links if (k.issue_key, k.field_key) == (issue_key, role)), None)
    if found is None:  # PostgreSQL: another transaction removed it since (read committed)
        raise Conflict("The link was removed meanwhile by another request; send it again")
    return _link(tx, found), added


def unlink_entry(
    tx: Transaction,
    issue_key: str,
    directory: Directory,
    entry_id: int,
    role: str | None,
    *,
    actor: Actor,
) -> None:
    """Unlink an entry from an issue in `role` (None: in every role), with the edit right
    on its directory; LinkNotFound if it is not linked so. Recorded and mirrored to Jira
    as `link_entry` (the remote link goes when no role links the entry any more)."""
    actor.rights.require(GlobalRight.MAIN_MENU)
    actor.rights.require_on(Action.EDIT, directory)
    issue_key = _issue_key(issue_key, "key")
    field_key = None if role is None else _field_key(role, "role")
    entry = _entry(tx, directory, entry_id)
    before = outbox.linked_entries(tx, issue_key)
    roles = store.remove_links(tx.connection, issue_key, entry.row, field_key)
    if not roles:
        raise LinkNotFound(issue_key)
    _record(tx, issue_key, roles, actor)
    outbox.links_changed(tx, issue_key, before)


def _record(tx: Transaction, issue_key: str, roles: list[str], actor: Actor) -> None:
    """What `set_crm_properties` keeps of a change: each role's property, its text now
    naming the contacts it links as `(id),(id)` (the form of Jira's contact field)."""
    contacts = tx.schema.directory_by_code(CONTACTS)
    for role in roles:
        ids = store.linked_numbers(tx.connection, issue_key, role, contacts.id)
        value = ",".join(f"({n})" for n in ids)
        store.put_property(tx.connection, issue_key, role, value, at=now(), by=actor.user_id)


def _entry(tx: Transaction, directory: Directory, entry_id: int) -> Entry:
    entry = entry_store.fetch_entry(tx.connection, directory.id, entry_id)
    if entry is None:
        raise EntryNotFound(directory.code)
    return entry


def _link(tx: Transaction, link: store.FieldLink) -> IssueLink:
    directory = tx.schema.directory(link.directory_id)
    return IssueLink(link.issue_key, directory, link.entry_id, link.name, link.field_key)


def _contact_rows(tx: Transaction, actor: Actor, value: str) -> list[int]:
    contacts = tx.schema.directory_by_code(CONTACTS)
    resolver = StoreResolver(tx, actor)
    rows: list[int] = []
    for token in (t.strip() for t in value.split(",")):
        if not token:
            continue
        ref = entry_reference(token)
        entry_id = resolver.entry_named(contacts, ref) if isinstance(ref, str) else ref
        entry = entry_id and entry_store.fetch_entry(tx.connection, contacts.id, entry_id)
        if not entry:
            raise EntryNotFound(CONTACTS)
        if entry.row not in rows:
            rows.append(entry.row)
    return rows


def _issue_key(text: str, parameter: str = "issueKey") -> str:
    key = text.strip()
    if not key:
        raise ParameterRequired(parameter)
    if not _ISSUE_KEY.fullmatch(key):
        raise InvalidParameter(parameter, printable(text))
    return key.upper()


def _field_key(text: str, parameter: str) -> str:
    key = text.strip()
    if not key:
        raise ParameterRequired(parameter)
    if len(key) > MAX_FIELD_KEY_LENGTH or has_invalid_characters(key):
        raise InvalidParameter(parameter, text)
    return key
