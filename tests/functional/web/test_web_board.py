"""The board: a directory's entries in a column per dictionary value, bounded columns with
a link to their list, moving a card by its form (stale moves refused, CSRF checked),
rights, hostile names, and the statements a board costs."""

import html
import re
from collections.abc import Iterator

import pytest

from accord.services import dictionaries, directories
from accord.services.transactions import Database, run
from tests.functional.api_support import CLI, set_values
from tests.functional.web.web_support import ROW_START, Browser, text_of, web_user
from tests.support import InProcessServer, statements

BOARD = "/d/CLIENTS/board?by=org_type"
GLOBEX = 4
LEADS = ["Globex", "Wayne Enterprises", "Pied Piper", "Cyberdyne Systems"]


@pytest.fixture
def admin(server: InProcessServer) -> Iterator[Browser]:
    browser = Browser(server).signed_in()
    yield browser
    browser.close()


def columns(page: str) -> dict[str, list[str]]:
    """A board's columns: each heading to the names of its cards, in order."""
    found: dict[str, list[str]] = {}
    for heading, body in re.findall(
        r'<section class="column"[^>]*>\s*<h2[^>]*>(.*?)</h2>(.*?)</section>', page, re.S
    ):
        cards = re.findall(r'<li class="card"[^>]*>\s*<a href="/d/\w+/\d+">(.*?)</a>', body)
        found[html.unescape(heading)] = [html.unescape(c) for c in cards]
    return found


def move_form(page: str, entry_id: int) -> dict[str, str]:
    """The fields a card's move form sends, as the page gives them."""
    form = re.search(
        rf'<form class="move" method="post" action="/d/\w+/{entry_id}/move">(.*?)</form>',
        page,
        re.S,
    )
    assert form is not None
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form[1])
    return {name: html.unescape(value) for name, value in hidden}


def value_id(page: str, label: str) -> str:
    found = re.search(rf'<option value="(\d*)"[^>]*>{re.escape(label)}</option>', page)
    assert found is not None, label
    return found[1]


def test_a_board_has_a_column_per_value_and_one_for_none(admin: Browser) -> None:
    page = admin.get(BOARD)
    assert page.status_code == 200
    board = columns(page.text)
    assert list(board) == ["Client", "Partner", "Lead", "Vendor", "Competitor", "(none)"]
    assert sorted(board["Lead"]) == sorted(LEADS)
    assert board["(none)"] == []
    assert sum(len(cards) for cards in board.values()) == 16
    assert admin.get("/d/CLIENTS/board").text == page.text  # the first such field


def test_the_list_links_to_its_board(admin: Browser) -> None:
    assert '<a class="button" href="/d/CLIENTS/board?by=org_type">Board</a>' in (
        admin.get("/d/CLIENTS").text
    )


def test_a_column_shows_its_first_cards_and_links_to_the_rest(admin: Browser) -> None:
    page = admin.get(BOARD + "&limit=2").text
    board = columns(page)
    assert len(board["Client"]) == 2
    assert len(board["Lead"]) == 2
    assert board["Partner"] == ["Teamlead", "Stark Industries"]
    more = re.search(r'<a href="([^"]+)">All entries in Client</a>', page)
    assert more is not None
    listed = admin.get(html.unescape(more[1])).text
    assert (
        len(
            re.findall(
                ROW_START + r'<a href="/d/CLIENTS/\d+">',
                listed,
            )
        )
        == 8
    )
    assert "All entries in Partner" not in page  # both shown: no more


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("by=nope", "Field 'nope' cannot group a board"),
        ("by=org_www", "Field 'org_www' cannot group a board"),
        ("limit=0", "limit is 1 to 50"),
        ("limit=abc", "limit is 1 to 50"),
    ],
)
def test_a_bad_board_is_explained(admin: Browser, query: str, message: str) -> None:
    reply = admin.get(f"/d/CLIENTS/board?{query}")
    assert reply.status_code == 400
    assert message in text_of(reply.text)


def test_a_directory_without_a_dictionary_field_has_no_board(db: Database, admin: Browser) -> None:
    run(db, lambda tx: directories.add_directory(tx, "NOTES", "Notes", actor=CLI), write=True)
    assert "/board" not in admin.get("/d/NOTES").text
    reply = admin.get("/d/NOTES/board")
    assert reply.status_code == 400
    assert "Notes has no field with one value of a dictionary" in text_of(reply.text)


def test_a_card_moves_to_another_column_by_its_form(admin: Browser) -> None:
    page = admin.get(BOARD).text
    form = {**move_form(page, GLOBEX), "to": value_id(page, "Client")}
    moved = admin.post(f"/d/CLIENTS/{GLOBEX}/move", form)
    assert (moved.status_code, moved.headers["location"]) == (303, BOARD)
    board = columns(admin.get(BOARD).text)
    assert "Globex" in board["Client"]
    assert "Globex" not in board["Lead"]
    card = admin.get(f"/d/CLIENTS/{GLOBEX}").text
    latest = card.split('<ol class="timeline">', 1)[1].split("</li>", 1)[0]
    assert "(web)" in latest
    assert re.search(
        r"<th scope=\"row\">Type</th><td><del>Lead</del></td><td><ins>Client</ins>", latest
    )
    none = {**move_form(admin.get(BOARD).text, GLOBEX), "to": ""}
    assert admin.post(f"/d/CLIENTS/{GLOBEX}/move", none).status_code == 303
    assert columns(admin.get(BOARD).text)["(none)"] == ["Globex"]


def test_a_stale_move_says_so_and_changes_nothing(db: Database, admin: Browser) -> None:
    page = admin.get(BOARD).text
    form = {**move_form(page, GLOBEX), "to": value_id(page, "Client")}
    set_values(db, "CLIENTS", GLOBEX, {"org_type": "Partner"})  # someone else first
    reply = admin.post(f"/d/CLIENTS/{GLOBEX}/move", form)
    assert reply.status_code == 409
    assert "Globex was changed by someone else while you were looking" in text_of(reply.text)
    assert "nothing was moved" in text_of(reply.text)
    assert "Globex" in columns(reply.text)["Partner"]  # the board as it is now
    assert "Globex" in columns(admin.get(BOARD).text)["Partner"]


def test_a_move_without_the_sessions_token_changes_nothing(admin: Browser) -> None:
    page = admin.get(BOARD).text
    form = {**move_form(page, GLOBEX), "to": value_id(page, "Client")}
    for token in [None, "forged"]:
        forged = {k: v for k, v in form.items() if k != "csrf"}
        if token is not None:
            forged["csrf"] = token
        reply = admin.post(f"/d/CLIENTS/{GLOBEX}/move", forged)
        assert reply.status_code == 403
        assert "This form has expired or did not come from Accord" in text_of(reply.text)
    assert "Globex" in columns(admin.get(BOARD).text)["Lead"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"to": "999999"}, "No value '999999' in dictionary 'Type'"),
        ({"to": "Client"}, "No value 'Client' in dictionary 'Type'"),
        ({"by": "org_www"}, "Field 'org_www' cannot group a board"),
    ],
)
def test_a_bad_move_is_refused_and_changes_nothing(
    admin: Browser, change: dict[str, str], message: str
) -> None:
    page = admin.get(BOARD).text
    form = {**move_form(page, GLOBEX), "to": value_id(page, "Client"), **change}
    reply = admin.post(f"/d/CLIENTS/{GLOBEX}/move", form)
    assert reply.status_code == 400
    assert message in text_of(reply.text)
    assert "Globex" in columns(admin.get(BOARD).text)["Lead"]


def test_a_user_who_may_only_read_gets_no_move_and_is_refused_one(
    db: Database, server: InProcessServer
) -> None:
    looker = web_user(db, server, "looker", ["main-menu", "CLIENTS.view"])
    page = looker.get(BOARD).text
    assert sorted(columns(page)["Lead"]) == sorted(LEADS)
    assert '<form class="move"' not in page
    form = {"csrf": looker.csrf(), "version": "1", "by": "org_type", "to": ""}
    assert looker.post(f"/d/CLIENTS/{GLOBEX}/move", form).status_code == 403
    stranger = web_user(db, server, "stranger", ["main-menu", "CONTACTS.view"])
    refused = stranger.get(BOARD)
    assert refused.status_code == 403
    assert "Globex" not in refused.text


def test_hostile_names_and_labels_render_as_text(db: Database, admin: Browser) -> None:
    hostile = '<script>alert("x")</script>'
    set_values(db, "CLIENTS", GLOBEX, {"org_name": hostile + " Globex"})
    run(
        db,
        lambda tx: dictionaries.add_dictionary_value(tx, "Type", "<b>Won</b> 'x\"", actor=CLI),
        write=True,
    )
    page = admin.get(BOARD).text
    assert "<script>alert" not in page
    assert "<b>Won</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Globex" in page
    assert "&lt;b&gt;Won&lt;/b&gt; &#39;x&#34;" in page
    assert "<b>Won</b> 'x\"" in columns(page)


def test_a_board_costs_the_same_statements_whatever_its_columns_hold(
    admin: Browser, db: Database
) -> None:
    admin.get(BOARD + "&limit=1")  # the session and schema cached
    counts = []
    for limit, shown in [(1, 1), (10, 8)]:
        with statements(db, on_the_driver=True) as sent:
            page = admin.get(f"{BOARD}&limit={limit}").text
        assert len(columns(page)["Client"]) == shown
        counts.append(len(sent))
    assert counts[0] == counts[1] > 0, counts
