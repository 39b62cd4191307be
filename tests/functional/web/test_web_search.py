"""Search everywhere: the header's box on every page, the results page grouped by
directory, the dropdown fragment, and a link picker's options; rights, refused input and
the statements a search costs. The tests only read: they share one demo database."""

import re

import pytest

from accord.services.transactions import Database
from tests.functional.web.web_support import (
    ROW_START,
    Browser,
    shared_admin,
    shared_viewer,
    text_of,
)
from tests.support import (
    InProcessServer,
    read_only_db,
    read_only_demo_url,
    read_only_server,
    statements,
)

SHARED = (read_only_demo_url, read_only_db, read_only_server, shared_admin, shared_viewer)


def groups(page: str) -> dict[str, list[str]]:
    """The results of a search page: each directory's name to the names found in it."""
    found: dict[str, list[str]] = {}
    for heading, body in re.findall(r"<h2[^>]*>(.*?)</h2>(.*?)</section>", page, re.S):
        entries = re.findall(r'<li><a href="/d/\w+/\d+">(.*?)</a></li>', body)
        found[text_of(heading)] = [text_of(e) for e in entries]
    return found


def test_every_signed_in_page_has_the_search_box(admin: Browser, server: InProcessServer) -> None:
    for path in ["/", "/d/CLIENTS", "/d/CLIENTS/2", "/d/CLIENTS/2/edit", "/search?q=x"]:
        page = admin.get(path).text
        assert '<form class="everywhere" method="get" action="/search"' in page, path
        assert 'aria-keyshortcuts="/"' in page
    assert 'id="everywhere"' not in Browser(server).get("/sign-in").text


def test_results_are_grouped_by_directory_with_links_to_cards(admin: Browser) -> None:
    page = admin.get("/search", params={"q": "teamlead"})
    assert page.status_code == 200
    assert groups(page.text) == {
        "Companies": ["Teamlead"],
        "Contacts": ["Bob Stone", "Eve Black", "Ivan Petrov"],
        "Products": ["CRM for Jira"],
    }
    assert '<a href="/d/CLIENTS/2">Teamlead</a>' in page.text
    assert 'value="teamlead"' in page.text  # the box keeps what was searched


def test_more_links_to_the_directorys_list_with_the_same_q(admin: Browser) -> None:
    page = admin.get("/search", params={"q": "example"}).text
    assert len(groups(page)["Companies"]) == 10
    more = re.search(r'<a class="more" href="(/d/CLIENTS\?q=[^"]+)">All matches in Companies', page)
    assert more is not None
    listed = admin.get(more[1]).text
    assert (
        len(
            re.findall(
                ROW_START + r'<a href="/d/CLIENTS/\d+">',
                listed,
            )
        )
        == 16
    )
    assert "All matches in Contacts" not in page  # ten contacts: all shown


def test_nothing_found_is_said_so(admin: Browser) -> None:
    page = admin.get("/search", params={"q": "zzzqqq"})
    assert page.status_code == 200
    assert "Nothing found for “zzzqqq”." in text_of(page.text)


def test_an_empty_box_searches_nothing(admin: Browser) -> None:
    for q in ["", "   "]:
        page = admin.get("/search", params={"q": q})
        assert page.status_code == 200
        assert groups(page.text) == {}
        assert "Nothing found" not in page.text
        assert 'role="alert"' not in page.text


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("x" * 201, "'q' holds 1 to 200 characters (not only spaces)"),
        ("a b c d e f g h i", "'q' holds at most 8 words"),
        ("bad\x00char", "'q' "),
    ],
)
def test_refused_input_shows_the_services_message(admin: Browser, q: str, message: str) -> None:
    page = admin.get("/search", params={"q": q})
    assert page.status_code == 400
    alert = re.search(r'<p class="alert" role="alert">(.*?)</p>', page.text, re.S)
    assert alert is not None
    assert text_of(alert[1]).startswith(message)
    suggested = admin.get("/search/suggest", params={"q": q})
    assert suggested.status_code == 200  # htmx shows it in the dropdown
    assert message in text_of(suggested.text)


def test_a_user_sees_nothing_of_a_directory_they_may_not_view(viewer: Browser) -> None:
    page = viewer.get("/search", params={"q": "teamlead"}).text
    assert groups(page) == {"Companies": ["Teamlead"]}
    for hidden in ["Bob Stone", "CRM for Jira", "Contacts", "Products"]:
        assert hidden not in text_of(page)
    suggested = viewer.get("/search/suggest", params={"q": "teamlead"}).text
    assert "Teamlead" in suggested
    assert "Bob Stone" not in suggested
    picked = viewer.get("/d/CONTACTS/pick", params={"q": "bob"}).text
    assert "Bob Stone" not in picked
    assert 'role="option"' not in picked


def test_the_dropdown_is_a_fragment_of_links(admin: Browser) -> None:
    reply = admin.get("/search/suggest", params={"q": "globex"})
    assert reply.status_code == 200
    assert "<html" not in reply.text
    assert '<a href="/d/CLIENTS/4">Globex</a>' in reply.text
    assert '<a href="/d/CONTACTS/4">Dan Brown</a>' in reply.text
    assert '<a href="/search?q=globex">See all results</a>' in reply.text
    assert admin.get("/search/suggest", params={"q": " "}).text.strip() == ""


def test_a_picker_offers_the_entries_of_its_directory(admin: Browser) -> None:
    reply = admin.get("/d/CLIENTS/pick", params={"q": "glob"})
    assert reply.status_code == 200
    options = re.findall(r'<li role="option"[^>]*data-id="(\d+)" data-name="([^"]*)">', reply.text)
    assert options == [("4", "Globex")]
    nothing = admin.get("/d/CLIENTS/pick", params={"q": "zzzqqq"}).text
    assert "No entry of Companies holds this." in text_of(nothing)
    assert admin.get("/d/NOPE/pick", params={"q": "x"}).status_code == 404


def test_a_stranger_is_sent_to_sign_in(server: InProcessServer) -> None:
    stranger = Browser(server)
    page = stranger.get("/search?q=teamlead")
    assert (page.status_code, page.headers["location"]) == (
        303,
        "/sign-in?next=/search%3Fq%3Dteamlead",
    )
    fragment = stranger.get("/search/suggest?q=teamlead", headers={"hx-request": "true"})
    assert (fragment.status_code, fragment.headers["hx-redirect"]) == (
        204,
        "/sign-in?next=/search/suggest%3Fq%3Dteamlead",
    )
    assert stranger.get("/d/CLIENTS/pick?q=t").status_code == 303


@pytest.mark.parametrize("path", ["/search", "/search/suggest", "/d/CONTACTS/pick"])
def test_a_search_costs_the_same_statements_whatever_it_finds(
    admin: Browser, db: Database, path: str
) -> None:
    """One match or as many as shown: the same statements (each rank read once)."""
    admin.get(path, params={"q": "warmup"})  # the session and schema cached
    counts = []
    for q, least in [("ivan petrov", 1), ("example", 5)]:
        with statements(db, on_the_driver=True) as sent:
            page = admin.get(path, params={"q": q}).text
        assert len(re.findall(r'href="/d/\w+/\d+"|role="option"', page)) >= least
        counts.append(len(sent))
    assert 0 < counts[1] <= counts[0], counts
