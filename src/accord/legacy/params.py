"""Request parameters, decoded the way a Java servlet decodes them.

UTF-8 with percent-decoding and `+` as a space; blank values are kept; the first value
of a repeated name is the one read; body parameters override query parameters. Bytes
that are not UTF-8 are kept as lone surrogates, so that they can never match a name and
are refused as a value, instead of being silently replaced.
"""

from collections.abc import Iterator
from urllib.parse import unquote_to_bytes


def decode_pairs(raw: bytes) -> list[tuple[str, str]]:
    """The `name=value` pairs of a query string or a form-encoded body, in order.

    A pair without a name (`=x`) is skipped, as a servlet container skips it.
    """
    # Decoded at once, then split, and only the parts holding an escape unescaped. The
    # same as splitting the bytes first: `&` and `=` are never part of a multi-byte
    # UTF-8 character, and undecodable bytes are kept one by one either way (and
    # encoded back to themselves before unescaping).
    pairs = []
    for part in raw.decode("utf-8", "surrogateescape").split("&"):
        name, _, value = part.partition("=")
        if name:
            pairs.append((_unescaped(name), _unescaped(value)))
    return pairs


def _unescaped(text: str) -> str:
    if "%" not in text and "+" not in text:
        return text
    raw = text.replace("+", " ").encode("utf-8", "surrogateescape")
    return unquote_to_bytes(raw).decode("utf-8", "surrogateescape")


class Params:
    """One request's parameters: the first value of each name, body over query."""

    def __init__(self, *sources: list[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for pairs in sources:
            first: dict[str, str] = {}
            for name, value in pairs:
                first.setdefault(name, value)
            # A name the query had keeps its place (the order `__iter__` gives).
            self._values.update(first)

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def text(self, name: str) -> str:
        """The value of `name` trimmed, "" when absent."""
        return (self._values.get(name) or "").strip()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._values.items())

    def __contains__(self, name: str) -> bool:
        return name in self._values
