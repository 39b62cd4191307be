"""Bulk actions on the rows selected in a list: set one field of each, or delete them
(after a page that names them and asks to confirm). All or nothing: one refused entry
and none is changed, the page saying which and why."""

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from accord.domain.entries import EntryRef, parse_id
from accord.domain.errors import AccordError
from accord.domain.rights import Action
from accord.domain.schema import Directory, Field
from accord.services import entries
from accord.services.batches import BatchRefused, Mode, write_batch
from accord.services.sessions import WebSession
from accord.services.transactions import Transaction
from accord.settings import Settings
from accord.web import texts
from accord.web.context import Page, Pairs, Refused, form_page, local_path, redirect
from accord.web.values import editable, entry_title, entry_url

MAX_SELECTED = 200
"""Rows one bulk action takes: a list's largest page."""
ACTIONS = ("set", "delete")


class BulkRefused(AccordError):
    """A bulk action that cannot be read: nothing selected, too many, an unknown action
    or field."""

    code = "bulk_refused"


@dataclass(frozen=True, slots=True)
class BulkForm:
    action: str
    ids: list[int]
    field: str
    value: str
    back: str
    confirmed: bool

    @classmethod
    def of(cls, pairs: Pairs) -> "BulkForm":
        values: dict[str, str] = {}
        ids: dict[int, None] = {}
        for name, value in pairs:
            if name == "id":
                number = parse_id(value)
                if number is None:
                    raise BulkRefused(texts.BULK_BAD_ID)
                ids[number] = None
            else:
                values.setdefault(name, value)
        if not ids:
            raise BulkRefused(texts.BULK_NONE_SELECTED)
        if len(ids) > MAX_SELECTED:
            raise BulkRefused(texts.BULK_TOO_MANY.format(MAX_SELECTED))
        action = values.get("action", "")
        if action not in ACTIONS:
            raise BulkRefused(texts.BULK_UNKNOWN_ACTION)
        return cls(
            action,
            list(ids),
            values.get("field", ""),
            values.get("value", ""),
            local_path(values.get("back", "")),
            values.get("confirm") == "yes",
        )


async def bulk(request: Request) -> Response:
    code = request.path_params["code"]

    def work(tx: Transaction, session: WebSession, pairs: Pairs) -> Page | Response:
        directory = tx.schema.find_directory(code)
        form = BulkForm.of(pairs)
        back = form.back if form.back != "/" else entry_url(directory)
        if form.action == "delete":
            return _delete(tx, session, directory, form, back)
        _set(tx, session, directory, form)
        return redirect(back)

    settings: Settings = request.app.state.settings
    return await form_page(request, work, limit=settings.max_request_bytes)


def _set(tx: Transaction, session: WebSession, directory: Directory, form: BulkForm) -> None:
    session.actor.rights.require_on(Action.EDIT, directory)
    field = _field(tx, directory, form.field)
    value = form.value.strip() or None
    items = [{"id": number, field.code: value} for number in form.ids]
    try:
        write_batch(tx, directory, items, mode=Mode.UPDATE, atomic=True, actor=session.actor)
    except BatchRefused as refused:
        raise Refused(_refused_page(tx, directory, form, refused)) from refused


def _field(tx: Transaction, directory: Directory, code: str) -> Field:
    for field in editable(tx.schema, directory):
        if field.code == code:
            return field
    raise BulkRefused(texts.BULK_UNKNOWN_FIELD)


def _refused_page(
    tx: Transaction, directory: Directory, form: BulkForm, refused: BatchRefused
) -> Page:
    problems = [
        (form.ids[index], error.message)
        for index, failure in refused.failures
        for error in _each(failure)
    ]
    values = {"directory": directory, "problems": problems, "back": form.back, "url": entry_url}
    return Page("bulk_refused.html", {**values, "message": refused.message}, 422)


def _each(error: AccordError) -> list[AccordError]:
    nested = getattr(error, "errors", None)
    return [e for _, e in nested] if nested else [error]


def _delete(
    tx: Transaction, session: WebSession, directory: Directory, form: BulkForm, back: str
) -> Page | Response:
    session.actor.rights.require_on(Action.REMOVE, directory)
    if not form.confirmed:
        chosen = [
            entries.get_entry(tx, directory, EntryRef(id=number), actor=session.actor)
            for number in form.ids
        ]
        titles = [(e.id, entry_title(tx.schema, directory, e)) for e in chosen]
        values = {"directory": directory, "chosen": titles, "back": back, "url": entry_url}
        return Page("bulk_delete.html", values)
    for number in form.ids:
        entries.delete_entry(tx, directory, EntryRef(id=number), actor=session.actor)
    return redirect(back)
