"""Secrets kept in the database (the Jira credential), encrypted with a key kept outside it.

The key is `ACCORD_SECRET_KEY` when set (a Fernet key: 32 bytes, URL-safe base64), else
the file `ACCORD_SECRET_KEY_FILE` names (default: beside the SQLite file, `<file>.key`;
`accord.key` in the working folder for PostgreSQL), made on first use, readable by its
owner only. A copy of the database alone does not reveal a secret; losing the key loses
the secrets (connect again).
"""

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from accord.domain.errors import SecretKeyUnusable

KEY_FILE_SUFFIX = ".key"


def default_key_file(database_url: str) -> Path:
    """Where the key lives when no setting names it: beside an SQLite file."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and database_url != prefix + ":memory:":
        return Path(database_url.removeprefix(prefix) + KEY_FILE_SUFFIX)
    return Path("accord.key")


def secret_box(*, key: str, key_file: str, database_url: str) -> "SecretBox":
    """The box of the stored secrets with the configured key (`ACCORD_SECRET_KEY`, else
    `ACCORD_SECRET_KEY_FILE`, else the default file for the database)."""
    return SecretBox(
        key=key, key_file=Path(key_file) if key_file else default_key_file(database_url)
    )


class SecretBox:
    """Encrypts and decrypts secrets with one key (AES-128-CBC with HMAC: Fernet)."""

    def __init__(self, *, key: str = "", key_file: Path) -> None:
        self._key = key.strip()
        self.key_file = key_file

    def encrypt(self, secret: str) -> str:
        return self._fernet(create=True).encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet(create=False).decrypt(token.encode("ascii")).decode()
        except InvalidToken:
            raise SecretKeyUnusable(
                f"The stored Jira secret does not open with this key ({self._where()}): "
                "set the key it was saved with, or connect Jira again"
            ) from None

    def _fernet(self, *, create: bool) -> Fernet:
        key = self._key or self._file_key(create=create)
        try:
            return Fernet(key)
        except ValueError:
            raise SecretKeyUnusable(
                f"The secret key ({self._where()}) is not a Fernet key "
                "(32 bytes in URL-safe base64)"
            ) from None

    def _file_key(self, *, create: bool) -> str:
        try:
            return self.key_file.read_text().strip()
        except FileNotFoundError:
            if not create:
                raise SecretKeyUnusable(
                    f"The secret key file {self.key_file} is missing: set "
                    "ACCORD_SECRET_KEY_FILE or ACCORD_SECRET_KEY, or connect Jira again"
                ) from None
        except OSError as error:
            raise SecretKeyUnusable(f"The secret key file {self.key_file}: {error}") from None
        return self._new_key_file()

    def _new_key_file(self) -> str:
        key = Fernet.generate_key().decode("ascii")
        try:
            descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile: use that one
            return self.key_file.read_text().strip()
        except OSError as error:
            raise SecretKeyUnusable(
                f"The secret key file {self.key_file} cannot be made: {error}"
            ) from None
        with os.fdopen(descriptor, "w") as file:
            file.write(key + "\n")
        return key

    def _where(self) -> str:
        return "ACCORD_SECRET_KEY" if self._key else str(self.key_file)
