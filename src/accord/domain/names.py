"""Names administrators give to things: users, groups, directories, fields."""

from accord.domain.errors import AccordError
from accord.domain.text import has_invalid_characters

MAX_NAME_LENGTH = 255


class InvalidName(AccordError):
    """A name (a login, a group's, a field's, ...) that is empty, too long or unprintable."""

    code = "invalid_name"

    def __init__(self, what: str, rule: str | None = None) -> None:
        super().__init__(rule or f"A {what} is 1 to {MAX_NAME_LENGTH} printable characters")


def checked_name(name: str, what: str = "name", *, field: str = "name") -> str:
    """`name` trimmed, or InvalidName about `field` (where a request carries it) if it is
    empty, too long or unprintable."""
    text = name.strip()
    if not text or len(text) > MAX_NAME_LENGTH or has_invalid_characters(text):
        raise InvalidName(what).about(field)
    return text
