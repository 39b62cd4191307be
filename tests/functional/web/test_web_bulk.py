"""Bulk actions on the rows selected in a list: set a field of each, or delete them after
a confirmation; all or nothing, within the user's rights."""

import re
from collections.abc import Iterator

import pytest

from accord.services.transactions import Database
from tests.functional.web.web_support import PASSWORD, Browser, add_web_user, text_of
from tests.support import InProcessServer, dump

LIST = "/d/CLIENTS?sort=org_name"


@pytest.fixture
def admin(server: InProcessServer) -> Iterator[Browser]:
    browser = Browser(server).signed_in()
    yield browser
    browser.close()


def _bulk(browser: Browser, ids: list[int], **fields: str) -> list[tuple[str, str]]:
    form = [("csrf", browser.csrf()), ("back", LIST)]
    return form + [("id", str(i)) for i in ids] + list(fields.items())


def _type_of(browser: Browser, company: int) -> str:
    """The Type a company's card shows."""
    card = browser.get(f"/d/CLIENTS/{company}").text
    found = re.search(r"<dt>Type</dt>\s*<dd[^>]*>(.*?)</dd>", card, re.S)
    assert found is not None
    return text_of(found[1])


def test_the_list_offers_a_checkbox_per_row_and_the_actions_the_user_may_take(
    admin: Browser,
) -> None:
    page = admin.get(LIST).text
    assert len(re.findall(r'<input type="checkbox" name="id" value="\d+" form="bulk"', page)) == 16
    assert '<option value="set">Set a field</option>' in page
    assert '<option value="delete">Delete</option>' in page


def test_a_field_is_set_on_every_selected_entry(admin: Browser) -> None:
    reply = admin.post(
        "/d/CLIENTS/bulk", _bulk(admin, [1, 3, 5], action="set", field="org_type", value="Partner")
    )
    assert reply.status_code == 303
    assert reply.headers["location"] == LIST
    assert [_type_of(admin, c) for c in (1, 3, 5)] == ["Partner"] * 3
    assert _type_of(admin, 4) == "Lead"
    history = text_of(admin.get("/d/CLIENTS/3").text)
    assert "Client Partner" in history


def test_one_refused_entry_changes_none_and_says_which(admin: Browser, db: Database) -> None:
    before = dump(db)
    reply = admin.post(
        "/d/CLIENTS/bulk", _bulk(admin, [1, 2], action="set", field="org_type", value="Nope")
    )
    assert reply.status_code == 422
    shown = text_of(reply.text)
    assert "2 of 2 entries were refused, so none was written" in shown
    assert "#1 : Invalid value for field Type: Nope" in shown
    assert "#2 : Invalid value for field Type: Nope" in shown
    assert dump(db) == before


def test_a_delete_is_confirmed_first_then_removes_every_selected_entry(
    admin: Browser, db: Database
) -> None:
    before = dump(db)
    asked = admin.post("/d/CLIENTS/bulk", _bulk(admin, [4, 9], action="delete"))
    assert asked.status_code == 200
    assert "Delete 2 entries of Companies?" in text_of(asked.text)
    assert "Globex" in asked.text
    assert "Hooli" in asked.text
    assert dump(db) == before
    done = admin.post("/d/CLIENTS/bulk", _bulk(admin, [4, 9], action="delete", confirm="yes"))
    assert done.status_code == 303
    assert [admin.get(f"/d/CLIENTS/{c}").status_code for c in (4, 9, 5)] == [404, 404, 200]


def test_an_entry_gone_meanwhile_stops_the_whole_delete(admin: Browser, db: Database) -> None:
    before = dump(db)
    reply = admin.post("/d/CLIENTS/bulk", _bulk(admin, [4, 999], action="delete", confirm="yes"))
    assert reply.status_code == 404
    assert dump(db) == before


@pytest.mark.parametrize(
    ("ids", "fields", "message"),
    [
        ([], {"action": "delete"}, "Select at least one entry first."),
        (list(range(1, 202)), {"action": "delete"}, "Select at most 200 entries at a time."),
        ([1], {"action": "archive"}, "Choose what to do with the selected entries."),
        ([1], {"action": "set", "field": "org_people"}, "Choose a field that entries hold"),
        ([1], {"action": "set", "field": "nope"}, "Choose a field that entries hold"),
    ],
)
def test_a_bulk_form_that_cannot_be_read_changes_nothing(
    admin: Browser, db: Database, ids: list[int], fields: dict[str, str], message: str
) -> None:
    before = dump(db)
    reply = admin.post("/d/CLIENTS/bulk", _bulk(admin, ids, **fields))
    assert reply.status_code == 422
    assert message in text_of(reply.text)
    assert dump(db) == before


def test_a_reader_is_offered_no_bulk_action_and_refused_one(
    db: Database, server: InProcessServer
) -> None:
    add_web_user(db, "reader", ["main-menu", "CLIENTS.view"])
    reader = Browser(server).signed_in("reader", PASSWORD)
    assert 'form="bulk"' not in reader.get(LIST).text
    before = dump(db)
    for action in ("set", "delete"):
        form = _bulk(reader, [1], action=action, field="org_type", value="Lead", confirm="yes")
        assert reader.post("/d/CLIENTS/bulk", form).status_code == 403
    assert dump(db) == before


def test_a_bulk_form_without_the_sessions_token_changes_nothing(
    admin: Browser, db: Database
) -> None:
    before = dump(db)
    form = [(n, v) for n, v in _bulk(admin, [1], action="delete", confirm="yes") if n != "csrf"]
    assert admin.post("/d/CLIENTS/bulk", form).status_code == 403
    assert dump(db) == before
