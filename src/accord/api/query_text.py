"""Query strings read as the text they must be: UTF-8, without control characters.

Starlette decodes a query string leniently: a byte that is not UTF-8 (`q=%FF`) becomes
U+FFFD, which then reads as a search for that character and finds nothing (a 200), where
`q=%00` was a 400. No parameter of the API takes such text, and a client whose text was
mangled on the way should be told so, not shown "no matches". So the raw query string is
read here, strictly, before any parameter is.
"""

from urllib.parse import unquote_to_bytes

from accord.domain.errors import InvalidQuery
from accord.domain.text import has_invalid_characters, printable


def require_readable(query_string: bytes) -> None:
    """Refuse (400 `invalid_query`, naming the parameter) a query string with a name or
    value that is not UTF-8 once percent-decoded, or that holds a control character
    (other than tab and line ends)."""
    found = first_unreadable(query_string)
    if found is not None:
        name, value = found
        raise InvalidQuery(
            f"Query parameter '{printable(name)}' holds undecodable text or control"
            f" characters, which no value can hold: '{printable(value)}'"
        ).about(printable(name))


def first_unreadable(query_string: bytes) -> tuple[str, str] | None:
    """The first (name, value) pair with unreadable text, as far as it decodes (each
    undecodable byte a lone surrogate, shown as U+FFFD); None if every pair reads."""
    for part in query_string.split(b"&"):
        name, _, value = part.partition(b"=")
        pair = _decoded(name), _decoded(value)
        if has_invalid_characters(pair[0]) or has_invalid_characters(pair[1]):
            return pair
    return None


def _decoded(raw: bytes) -> str:
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8", "surrogateescape")
