"""Jira issues seen from the CRM: per-issue CRM properties and the contacts they name."""

import re

from accord.domain.errors import EntryNotFound, InvalidParameter, ParameterRequired
from accord.domain.rights import GlobalRight
from accord.domain.schema import CONTACTS
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


def _issue_key(text: str) -> str:
    key = text.strip()
    if not key:
        raise ParameterRequired("issueKey")
    if not _ISSUE_KEY.fullmatch(key):
        raise InvalidParameter("issueKey", printable(text))
    return key.upper()


def _field_key(text: str, parameter: str) -> str:
    key = text.strip()
    if not key:
        raise ParameterRequired(parameter)
    if len(key) > MAX_FIELD_KEY_LENGTH or has_invalid_characters(key):
        raise InvalidParameter(parameter, text)
    return key
