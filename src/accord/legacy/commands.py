"""The commands of the legacy API (legacy-api.md §4): each parses, calls a service, renders."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from accord.domain.entries import Entry, EntryRef
from accord.domain.errors import (
    AccordError,
    InvalidParameter,
    ParameterRequired,
)
from accord.domain.rights import Action
from accord.domain.schema import COMPANIES, CONTACTS, TRANSACTIONS, Directory
from accord.domain.text import printable
from accord.domain.users import Actor
from accord.legacy.fields import RESERVED, field_inputs, search_pairs
from accord.legacy.params import Params
from accord.legacy.render import entry_object
from accord.services import dictionaries, entries, issues, sync
from accord.services.jira import JiraGateway
from accord.services.transactions import Transaction


class UnknownCommand(AccordError):
    code = "unknown_command"

    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown command: {printable(name)}")


@dataclass(frozen=True, slots=True)
class Call:
    tx: Transaction
    actor: Actor
    params: Params
    jira: JiraGateway | None

    def directory(self, code: str) -> Directory:
        return self.tx.schema.directory_by_code(code)

    def table(self) -> Directory:
        """The directory `tableName` names (required)."""
        name = self.params.text("tableName")
        if not name:
            raise ParameterRequired("tableName")
        return self.tx.schema.find_directory(name)


@dataclass(frozen=True, slots=True)
class Listing:
    """A reply that lists entries, streamed as they are read."""

    key: str
    directory: Directory
    entries: Iterator[Entry]


Reply = dict[str, object] | Listing


@dataclass(frozen=True, slots=True)
class Command:
    run: Callable[[Call], Reply]
    writes: bool = False
    lists: bool = False
    """Answers with a listing of entries, which can be long."""

    @property
    def is_point_read(self) -> bool:
        return not self.writes and not self.lists


def _ref(call: Call, id_param: str, name_param: str) -> EntryRef:
    """The entry named by an id parameter or, when that is blank, a name parameter."""
    if call.params.text(id_param):
        return EntryRef.by_id(call.params.text(id_param))
    if call.params.text(name_param):
        return EntryRef.by_name(call.params.text(name_param))
    raise ParameterRequired(name_param)


def _entry_reply(call: Call, entry: Entry, directory: Directory) -> Reply:
    return entry_object(entry, directory, call.tx.schema)


# Companies and contacts


def _get_all(code: str, key: str) -> Command:
    def run(call: Call) -> Reply:
        directory = call.directory(code)
        return Listing(key, directory, entries.search_entries(call.tx, directory, actor=call.actor))

    return Command(run, lists=True)


def _get_one(code: str, id_param: str, name_param: str) -> Command:
    def run(call: Call) -> Reply:
        directory = call.directory(code)
        call.actor.rights.require_on(Action.VIEW, directory)
        ref = _ref(call, id_param, name_param)
        return _entry_reply(
            call, entries.get_entry(call.tx, directory, ref, actor=call.actor), directory
        )

    return Command(run)


def _add(code: str) -> Command:
    def run(call: Call) -> Reply:
        directory = call.directory(code)
        call.actor.rights.require_on(Action.ADD, directory)
        table = call.params.text("tableName")
        if table and call.tx.schema.find_directory(table) != directory:
            raise InvalidParameter("tableName", table)
        inputs = field_inputs(call.params, call.tx.schema, directory)
        entry = entries.create_entry(call.tx, directory, inputs, actor=call.actor)
        return _entry_reply(call, entry, directory)

    return Command(run, writes=True)


def _edit(code: str, id_param: str, name_param: str) -> Command:
    def run(call: Call) -> Reply:
        directory = call.directory(code)
        call.actor.rights.require_on(Action.EDIT, directory)
        ref = _ref(call, id_param, name_param)
        inputs = field_inputs(call.params, call.tx.schema, directory)
        entry = entries.update_entry(call.tx, directory, ref, inputs, actor=call.actor)
        return _entry_reply(call, entry, directory)

    return Command(run, writes=True)


def _delete(code: str, id_param: str, name_param: str) -> Command:
    def run(call: Call) -> Reply:
        directory = call.directory(code)
        call.actor.rights.require_on(Action.REMOVE, directory)
        entries.delete_entry(call.tx, directory, _ref(call, id_param, name_param), actor=call.actor)
        return {}

    return Command(run, writes=True)


def _set_contact(call: Call) -> Reply:
    call.actor.rights.require_on(Action.EDIT, call.directory(CONTACTS))
    contact = _ref(call, "contactId", "contactName")
    company = _ref(call, "companyId", "companyName")
    entries.link_contact_to_company(call.tx, contact, company, actor=call.actor)
    return {}


# Dictionaries


def _add_dictionary_value(call: Call) -> Reply:
    name, label = call.params.text("dictionaryName"), call.params.text("newvalue")
    dictionaries.add_dictionary_value(call.tx, name, label, actor=call.actor)
    return {}


def _remove_dictionary_value(call: Call) -> Reply:
    name, label = call.params.text("dictionaryName"), call.params.text("valuetoremove")
    dictionaries.remove_dictionary_value(call.tx, name, label, actor=call.actor)
    return {}


# Any directory


def _search_entities(call: Call) -> Reply:
    directory = call.table()
    call.actor.rights.require_on(Action.VIEW, directory)
    terms = [(call.tx.schema.find_field(directory, n), v) for n, v in search_pairs(call.params)]
    return Listing(
        "records", directory, entries.search_entries(call.tx, directory, terms, actor=call.actor)
    )


def update_or_create(call: Call, id_param: str = "id") -> Reply:
    """`updateOrCreateEntity` (and the form endpoint `updateNom`, with `nomId`)."""
    directory = call.table()
    id_text = call.params.text(id_param)
    action = Action.EDIT if id_text else Action.ADD
    call.actor.rights.require_on(action, directory)
    reserved = RESERVED | {id_param}
    inputs = field_inputs(call.params, call.tx.schema, directory, reserved=reserved)
    if not id_text:
        entry = entries.create_entry(call.tx, directory, inputs, actor=call.actor)
    else:
        ref = EntryRef.by_id(id_text)
        entry = entries.update_entry(call.tx, directory, ref, inputs, actor=call.actor)
    return _entry_reply(call, entry, directory)


def _transactions_list(call: Call) -> Reply:
    directory = call.directory(TRANSACTIONS)
    call.actor.rights.require_on(Action.VIEW, directory)
    schema = call.tx.schema
    terms = [(schema.find_field(directory, n), v) for n, v in search_pairs(call.params)]
    if call.params.text("saleVal"):
        terms.append((schema.field(directory, "transaction_sale"), call.params.text("saleVal")))
    return Listing(
        "transactions",
        directory,
        entries.search_entries(call.tx, directory, terms, actor=call.actor),
    )


# Jira


def _sync(call: Call) -> Reply:
    sync.request_user_sync(call.tx, actor=call.actor)
    return {}


def _set_crm_properties(call: Call) -> Reply:
    field_key = call.params.text("customFieldId") or call.params.text("fieldName")
    issues.set_crm_properties(
        call.tx,
        call.params.text("issueKey"),
        field_key,
        call.params.get("value") or "",
        actor=call.actor,
        jira=call.jira,
    )
    return {}


def _get_contact_email(call: Call) -> Reply:
    emails = issues.contact_emails(
        call.tx, call.params.text("issueKey"), call.params.text("customFieldId"), actor=call.actor
    )
    return {"email": ",".join(emails), "emails": emails}


COMMANDS: dict[str, Command] = {
    "getcompanies": _get_all(COMPANIES, "companies"),
    "getcompanybyname": _get_one(COMPANIES, "companyId", "companyName"),
    "addcompany": _add(COMPANIES),
    "editcompany": _edit(COMPANIES, "companyId", "companyName"),
    "deletecompany": _delete(COMPANIES, "companyId", "companyName"),
    "getcontacts": _get_all(CONTACTS, "contacts"),
    "getcontactbyname": _get_one(CONTACTS, "contactId", "contactName"),
    "addcontact": _add(CONTACTS),
    "editcontact": _edit(CONTACTS, "contactId", "contactName"),
    "deletecontact": _delete(CONTACTS, "contactId", "contactName"),
    "setcontact": Command(_set_contact, writes=True),
    "adddictionaryvalue": Command(_add_dictionary_value, writes=True),
    "removedictionaryvalue": Command(_remove_dictionary_value, writes=True),
    "searchentities": Command(_search_entities, lists=True),
    "updateorcreateentity": Command(update_or_create, writes=True),
    "transactionslist": Command(_transactions_list, lists=True),
    "sync": Command(_sync, writes=True),
    "setcrmproperties": Command(_set_crm_properties, writes=True),
    "getcontactemail": Command(_get_contact_email),
}


def find_command(name: str) -> Command:
    command = COMMANDS.get(name.strip().lower())
    if command is None:
        raise UnknownCommand(name)
    return command
