"""Names administrators give to things: users, groups, directories, fields."""

from accord.domain.errors import AccordError
from accord.domain.text import has_invalid_characters

MAX_NAME_LENGTH = 255


def checked_name(name: str, what: str = "name") -> str:
    """`name` trimmed, or a clear error if it is empty, too long or unprintable."""
    text = name.strip()
    if not text or len(text) > MAX_NAME_LENGTH or has_invalid_characters(text):
        raise AccordError(f"A {what} is 1 to {MAX_NAME_LENGTH} printable characters")
    return text
