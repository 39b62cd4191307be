"""Form bodies, read within a bound and parsed strictly."""

from urllib.parse import parse_qsl

from starlette.requests import Request

from accord.domain.errors import AccordError, Family
from accord.web import texts

FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 2000
"""A form holds at most this many values (a card of every field, twice, and more)."""


class BadForm(AccordError):
    code = "bad_form"
    family = Family.MALFORMED


class FormTooLarge(AccordError):
    code = "request_too_large"
    family = Family.TOO_LARGE

    def __init__(self) -> None:
        super().__init__(texts.FORM_TOO_LARGE)


async def read_form(request: Request, limit: int) -> list[tuple[str, str]]:
    """The form's (name, value) pairs in order: at most `limit` bytes, URL-encoded."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM:
        raise BadForm(texts.FORM_NOT_FORM)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FormTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise FormTooLarge
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadForm(texts.FORM_NOT_FORM) from None


def first(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Each name's first value."""
    found: dict[str, str] = {}
    for name, value in pairs:
        found.setdefault(name, value)
    return found
