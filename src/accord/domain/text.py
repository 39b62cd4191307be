"""How Accord compares human-typed text: case, white space and look-alike letters."""

import hashlib
import re

KEY_LENGTH = 200
"""Longest lookup key stored in an index; longer values are shortened with a digest."""

MESSAGE_VALUE_LENGTH = 200
"""Longest user value echoed back inside an error message."""

_WHITESPACE = re.compile(r"\s+")

# Cyrillic letters that look like Latin ones, in lower case: names are compared case
# folded, and a letter folds to Latin whichever case it is written in ("Контакт" and
# "контакт" are one name). The vendor's own documentation writes "Сompany name" with a
# Cyrillic "С", so names are compared with these folded to Latin.
_HOMOGLYPHS = str.maketrans("авекмнорстухіјѕԁӏ", "abekmhopctyxijsdl")


def fold(text: str) -> str:
    """The case-insensitive form of `text` (Unicode case folding)."""
    return text.casefold()


def name_form(text: str) -> str:
    """The form in which display names are compared.

    Case-insensitive, runs of white space collapsed, Cyrillic look-alikes read as Latin.
    """
    return _WHITESPACE.sub(" ", text.casefold().translate(_HOMOGLYPHS)).strip()


def search_form(text: str) -> str:
    """The form in which text is searched (`icontains`, `q`): Unicode case folding, then
    the Cyrillic look-alikes read as Latin, as names are compared (`name_form`); white
    space and diacritics are kept ("Cafe" does not find "Café"). Character by character,
    so a piece of a text has, in this form, a piece of the text's form."""
    return text.casefold().translate(_HOMOGLYPHS)


def compact_form(text: str) -> str:
    """The case-insensitive form of `text` with all white space removed."""
    return _WHITESPACE.sub("", text).casefold()


def index_key(folded: str) -> str:
    """A key of at most KEY_LENGTH characters that is equal exactly when `folded` is.

    Short values are their own key; long ones keep a prefix and add a SHA-256 digest,
    so an index entry stays small (PostgreSQL limits a b-tree entry to ~2.7 kB).
    """
    if len(folded) <= KEY_LENGTH:
        return folded
    digest = hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()
    return folded[: KEY_LENGTH - 65] + "#" + digest


_INVALID = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Undecodable bytes (lone surrogates) and control characters other than tab and ends
of lines. (A regular expression: a loop over the characters in Python cost a batch of
1000 entries 30 ms.)"""


def has_invalid_characters(text: str) -> bool:
    """True when `text` holds undecodable bytes (lone surrogates) or control characters."""
    return _INVALID.search(text) is not None


_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(text: str) -> str:
    """`text` with each undecodable byte (a lone surrogate) as U+FFFD: what any UTF-8
    reply can carry."""
    return _SURROGATE.sub("\ufffd", text)


def printable(text: str) -> str:
    """`text` made safe to echo in a message: undecodable bytes as U+FFFD, long text cut."""
    cleaned = well_formed(text)
    if len(cleaned) > MESSAGE_VALUE_LENGTH:
        return cleaned[:MESSAGE_VALUE_LENGTH] + "…"
    return cleaned
