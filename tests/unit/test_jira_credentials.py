"""Which way of signing in to Jira a set of options names, decided before Jira is asked."""

import pytest

from accord.domain.errors import AccordError
from accord.jira.client import InvalidJiraAddress, checked_url
from accord.services.jira_connection import credential_from


def test_each_way_of_signing_in_names_its_deployment() -> None:
    dc_token = credential_from("https://jira.example.com", token="t")
    assert (dc_token.deployment, dc_token.auth, dc_token.username) == ("datacenter", "token", "")
    basic = credential_from("https://jira.example.com", user="u", password="p")
    assert (basic.deployment, basic.auth, basic.username) == ("datacenter", "password", "u")
    cloud = credential_from("https://acme.atlassian.net", email="e@x", api_token="t")
    assert (cloud.deployment, cloud.auth) == ("cloud", "api-token")
    assert credential_from("https://jira.acme.com", email="e", api_token="t").deployment == "cloud"
    assert "'p'" not in repr(basic)  # the password never shows in a log or a traceback


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("https://acme.atlassian.net", {"token": "t"}, "Jira Cloud takes an e-mail"),
        ("https://jira.example.com", {"token": "t", "cloud": True}, "Jira Cloud takes an e-mail"),
        ("https://jira.example.com", {"user": "u"}, "Give a token, or a user and a password"),
        ("https://jira.example.com", {}, "Give a token, or a user and a password"),
    ],
)
def test_a_wrong_mix_of_options_says_what_to_give(
    url: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(AccordError, match=message):
        credential_from(url, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "jira.example.com",
        "ftp://jira.example.com",
        "https://",
        "https://u:p@jira.x",
        "https://jira.x/?a=1",
    ],
)
def test_an_address_that_cannot_be_jiras_is_refused(url: str) -> None:
    with pytest.raises(InvalidJiraAddress):
        checked_url(url)


def test_an_address_keeps_its_context_path_without_the_trailing_slash() -> None:
    assert checked_url(" https://example.com/jira/ ") == "https://example.com/jira"
