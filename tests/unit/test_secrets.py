"""Stored secrets: encrypted with a key kept outside the database, and every way the key
can be wrong said in one line."""

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from accord.domain.errors import SecretKeyUnusable
from accord.services.secrets import SecretBox, default_key_file, secret_box


def test_a_key_file_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    key_file = tmp_path / "accord.db.key"
    sealed = SecretBox(key_file=key_file).encrypt("pat-123")
    assert "pat-123" not in sealed
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert SecretBox(key_file=key_file).decrypt(sealed) == "pat-123"  # another process


def test_a_secret_sealed_with_another_key_does_not_open(tmp_path: Path) -> None:
    sealed = SecretBox(key=Fernet.generate_key().decode(), key_file=tmp_path / "k").encrypt("x")
    other = SecretBox(key=Fernet.generate_key().decode(), key_file=tmp_path / "k")
    with pytest.raises(SecretKeyUnusable, match="does not open with this key"):
        other.decrypt(sealed)


def test_a_missing_key_file_is_not_made_to_read_a_secret(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyUnusable, match="is missing"):
        SecretBox(key_file=tmp_path / "gone.key").decrypt("token")
    assert not (tmp_path / "gone.key").exists()


def test_a_key_that_is_no_fernet_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyUnusable, match=r"\(ACCORD_SECRET_KEY\) is not a Fernet key"):
        SecretBox(key="short", key_file=tmp_path / "k").encrypt("x")


def test_the_default_key_file_sits_beside_the_sqlite_file() -> None:
    assert default_key_file("sqlite:////var/lib/accord/accord.db") == Path(
        "/var/lib/accord/accord.db.key"
    )
    assert default_key_file("postgresql+psycopg://db/accord") == Path("accord.key")
    chosen = secret_box(key="", key_file="/etc/accord/key", database_url="sqlite:///a.db")
    assert chosen.key_file == Path("/etc/accord/key")
