"""An entry's card (every field by its type, and its history), its edit form with the
services' errors next to their fields and stale-edit protection, and create and delete."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from accord.domain.entries import MAX_ID, Entry, EntryRef
from accord.domain.errors import AccordError, EntryNotFound, InvalidFields, StaleVersion
from accord.domain.filters import parse_filter
from accord.domain.rights import Action
from accord.domain.schema import Directory, Field, Schema
from accord.services import entries, listings
from accord.services.listings import ListQuery
from accord.services.sessions import WebSession
from accord.services.transactions import Transaction
from accord.settings import Settings
from accord.web import texts
from accord.web.context import Page, Pairs, Refused, form_page, page, redirect
from accord.web.forms import first
from accord.web.values import (
    Picks,
    changed_inputs,
    editable,
    entry_title,
    entry_url,
    form_value,
    picked,
    shown,
    typed_value,
)


def entry_id_of(request: Request) -> int:
    """The id in the path; one out of range names no entry (a 404, as any unknown one)."""
    digits: str = request.path_params["entry_id"]
    well_formed = digits.isascii() and digits.isdigit() and len(digits) <= 10
    number = int(digits) if well_formed else 0
    return number if 1 <= number <= MAX_ID else 0


def _located(
    tx: Transaction, session: WebSession, code: str, entry_id: int
) -> tuple[Directory, Entry]:
    directory = tx.schema.find_directory(code)
    if entry_id == 0:
        session.actor.rights.require_on(Action.VIEW, directory)
        raise EntryNotFound(directory.code)
    entry = entries.get_entry(tx, directory, EntryRef(id=entry_id), actor=session.actor)
    return directory, entries.with_contacts(tx, directory, entry)


@dataclass(frozen=True, slots=True)
class Moment:
    """Changes made together: when, by whom, how, and each field's old and new value."""

    at: str
    who: str
    action: str
    edge: str
    changes: list[tuple[str, str, str]]


def _timeline(
    schema: Schema, directory: Directory, items: Sequence[listings.HistoryItem]
) -> list[Moment]:
    """The changes grouped by the write that made them, the newest write first (each
    write's fields in the order it recorded them)."""

    def name(code: str | None) -> str:
        found = None if code is None else schema.field_by_code(directory, code)
        return found.name if found is not None else (code or "")

    def key(item: listings.HistoryItem) -> tuple[Any, ...]:
        change = item.change
        return (change.at, item.login, change.action, change.edge)

    moments = []
    for (at, login, action, edge), group in groupby(items, key=key):
        changes = [
            (name(i.change.field_code), i.change.old_value or "", i.change.new_value or "")
            for i in group
            if i.change.field_code is not None
        ]
        who = login or "Accord"
        moments.append(Moment(at.strftime("%Y-%m-%d %H:%M:%S UTC"), who, action, edge, changes))
    return moments[::-1]


RELATED_SHOWN = 10
"""Related entries a card lists per link field; a link to the whole list follows."""


@dataclass(frozen=True, slots=True)
class Related:
    """The entries of another directory whose link field names this entry."""

    directory: Directory
    field: Field
    entries: list[tuple[int, str]]
    """(id, title), at most RELATED_SHOWN."""
    more: bool
    list_url: str


def _related(
    tx: Transaction, session: WebSession, directory: Directory, entry: Entry
) -> list[Related]:
    """For each link field to `directory` in a directory the user may see, the first
    entries naming this one (a company's transactions, a contact's deals). A company's
    contacts are left out: its Contacts field lists them already."""
    found = []
    shown_already = entries.contacts_link(tx, directory)
    for f in tx.schema.link_fields_to(directory):
        other = tx.schema.directory(f.directory_id)
        if f == shown_already or not session.actor.rights.can(Action.VIEW, other):
            continue
        condition = f"{f.code} eq {entry.id}"
        query = ListQuery(filter=parse_filter(condition), limit=RELATED_SHOWN)
        listed = listings.list_entries(tx, other, query, actor=session.actor)
        titles = [(e.id, entry_title(tx.schema, other, e)) for e in listed.entries]
        url = f"{entry_url(other)}?{urlencode({'filter': condition})}"
        found.append(Related(other, f, titles, listed.next_cursor is not None, url))
    return found


async def card(request: Request) -> Response:
    code, entry_id = request.path_params["code"], entry_id_of(request)

    def work(tx: Transaction, session: WebSession) -> Page:
        directory, entry = _located(tx, session, code, entry_id)
        rights = session.actor.rights
        history = listings.entry_history(tx, directory, entry.id, actor=session.actor)
        fields = [(f, shown(f, entry, tx.schema)) for f in tx.schema.fields_of(directory)]
        values = {
            "directory": directory,
            "entry": entry,
            "title": entry_title(tx.schema, directory, entry),
            "fields": fields,
            "timeline": _timeline(tx.schema, directory, history),
            "related": _related(tx, session, directory, entry),
            "can_edit": rights.can(Action.EDIT, directory),
            "can_remove": rights.can(Action.REMOVE, directory),
            "url": entry_url,
        }
        return Page("card.html", values)

    return await page(request, work)


# The edit form


def _form_page(
    tx: Transaction,
    directory: Directory,
    entry: Entry | None,
    *,
    typed: Mapping[str, str] | None = None,
    was: Mapping[str, str] | None = None,
    version: int | None = None,
    errors: Mapping[str, str] | None = None,
    message: str = "",
    saved_now: Mapping[str, str] | None = None,
    picks: Picks | None = None,
    status: int = 200,
) -> Page:
    schema = tx.schema
    fields = editable(schema, directory)
    original = {f.code: form_value(f, entry, schema) for f in fields}
    values = {
        "directory": directory,
        "entry": entry,
        "title": entry_title(schema, directory, entry) if entry is not None else "",
        "fields": fields,
        "typed": typed if typed is not None else original,
        "was": was if was is not None else original,
        "version": version if version is not None else (entry.version if entry else None),
        "errors": errors or {},
        "message": message,
        "saved_now": saved_now or {},
        "picks": picks or {},
        "dictionary": schema.dictionary,
        "target": lambda f: schema.directory(f.target_directory_id),
        "url": entry_url,
    }
    return Page("edit.html", values, status)


async def edit_form(request: Request) -> Response:
    code, entry_id = request.path_params["code"], entry_id_of(request)

    def work(tx: Transaction, session: WebSession) -> Page:
        directory, entry = _located(tx, session, code, entry_id)
        session.actor.rights.require_on(Action.EDIT, directory)
        return _form_page(tx, directory, entry)

    return await page(request, work)


async def new_form(request: Request) -> Response:
    code = request.path_params["code"]

    def work(tx: Transaction, session: WebSession) -> Page:
        directory = tx.schema.find_directory(code)
        session.actor.rights.require_on(Action.ADD, directory)
        return _form_page(tx, directory, None)

    return await page(request, work)


def _field_errors(error: AccordError) -> dict[str, str]:
    if isinstance(error, InvalidFields):
        return {code: each.message for code, each in reversed(error.errors)}
    return {} if error.field is None else {error.field: error.message}


def _limit(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.max_request_bytes


def _refused(
    tx: Transaction,
    directory: Directory,
    entry: Entry | None,
    error: AccordError,
    **form: Any,
) -> Refused:
    """The form again with the services' errors by field; `error` itself if it names none."""
    errors = _field_errors(error)
    if not errors:
        raise error
    page_ = _form_page(
        tx, directory, entry, errors=errors, message=texts.FIX_ERRORS, status=422, **form
    )
    return Refused(page_)


async def save(request: Request) -> Response:
    code, entry_id = request.path_params["code"], entry_id_of(request)

    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Page | Response:
        form = first(pairs)
        directory, entry = _located(tx, session, code, entry_id)
        session.actor.rights.require_on(Action.EDIT, directory)
        fields = editable(tx.schema, directory)
        typed = {f.code: typed_value(f, pairs) for f in fields}
        was = {f.code: form.get(f"was.{f.code}", "") for f in fields}
        version, picks = version_of(form.get("version", "")), picked(fields, pairs)
        try:
            entries.update_entry(
                tx,
                directory,
                EntryRef(id=entry.id),
                changed_inputs(fields, typed, was, picks),
                actor=session.actor,
                expected_version=version,
            )
        except StaleVersion as stale:
            saved_now = {
                f.code: ", ".join(item.text for item in shown(f, entry, tx.schema))
                for f in fields
                if form_value(f, entry, tx.schema) != was.get(f.code)
            }
            message = texts.STALE_EDIT.format(version=stale.current)
            raise Refused(
                _form_page(
                    tx,
                    directory,
                    entry,
                    typed=typed,
                    was=was,
                    version=stale.current,
                    message=message,
                    saved_now=saved_now,
                    picks=picks,
                    status=409,
                )
            ) from stale
        except AccordError as error:
            refused = _refused(
                tx, directory, entry, error, typed=typed, was=was, version=version, picks=picks
            )
            raise refused from error
        return redirect(entry_url(directory, entry.id))

    return await form_page(request, work, limit=_limit(request))


def version_of(text: str) -> int:
    """The version the form was made from; one that cannot be is stale, as an old one."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else -1


async def create(request: Request) -> Response:
    code = request.path_params["code"]

    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Page | Response:
        directory = tx.schema.find_directory(code)
        fields = editable(tx.schema, directory)
        typed, picks = {f.code: typed_value(f, pairs) for f in fields}, picked(fields, pairs)
        inputs = changed_inputs(fields, typed, None, picks)
        try:
            entry = entries.create_entry(tx, directory, inputs, actor=session.actor)
        except AccordError as error:
            raise _refused(tx, directory, None, error, typed=typed, picks=picks) from error
        return redirect(entry_url(directory, entry.id))

    return await form_page(request, work, limit=_limit(request))


async def delete_form(request: Request) -> Response:
    code, entry_id = request.path_params["code"], entry_id_of(request)

    def work(tx: Transaction, session: WebSession) -> Page:
        directory, entry = _located(tx, session, code, entry_id)
        session.actor.rights.require_on(Action.REMOVE, directory)
        values = {"directory": directory, "entry": entry, "url": entry_url}
        return Page("delete.html", {**values, "title": entry_title(tx.schema, directory, entry)})

    return await page(request, work)


async def delete(request: Request) -> Response:
    code, entry_id = request.path_params["code"], entry_id_of(request)

    def work(tx: Transaction, session: WebSession, _pairs: Pairs) -> Response:
        directory, entry = _located(tx, session, code, entry_id)
        entries.delete_entry(tx, directory, EntryRef(id=entry.id), actor=session.actor)
        return redirect(entry_url(directory))

    return await form_page(request, work, limit=_limit(request))
