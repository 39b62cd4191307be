"""`ACCORD_PUBLIC_URL`: the address Jira's remote links point to, checked when read, and
by default the address the server listens on."""

import socket

import pytest

from accord.settings import Settings, listening_url


def test_the_public_url_is_read_without_its_trailing_slash() -> None:
    settings = Settings.from_env({"ACCORD_PUBLIC_URL": " https://crm.example.com/accord/ "})
    assert settings.public_url == "https://crm.example.com/accord"
    assert settings.with_listening_address("0.0.0.0", 9000) is settings  # given: kept


@pytest.mark.parametrize(
    "value", ["crm.example.com", "ftp://crm.example.com", "https://crm.example.com/?a=1", "http://"]
)
def test_a_public_url_that_is_no_base_address_is_refused_by_name(value: str) -> None:
    with pytest.raises(ValueError, match="ACCORD_PUBLIC_URL is an http\\(s\\) base address"):
        Settings.from_env({"ACCORD_PUBLIC_URL": value})


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("crm.internal", 80, "http://crm.internal:80"),
        ("::1", 8000, "http://[::1]:8000"),
        ("0.0.0.0", 8000, f"http://{socket.gethostname()}:8000"),
    ],
)
def test_without_one_it_is_the_address_served_on(host: str, port: int, url: str) -> None:
    assert listening_url(host, port) == url
    assert Settings().with_listening_address(host, port).public_url == url
