"""What a web UI password may be (the hashing itself is the services' business)."""

from accord.domain.errors import AccordError
from accord.domain.text import has_invalid_characters

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
"""Longer passwords are refused before they are hashed: hashing costs time per byte."""


class InvalidPassword(AccordError):
    code = "invalid_password"

    def __init__(self) -> None:
        super().__init__(
            f"A password is {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters,"
            " without control characters"
        )


def checked_password(password: str) -> str:
    """The password as given (never trimmed: every character counts), if it may be one."""
    fits = MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH
    if not fits or has_invalid_characters(password):
        raise InvalidPassword().about("password")
    return password
