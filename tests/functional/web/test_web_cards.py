"""An entry's card, its edit form (errors by field, stale edits), create, delete, history,
and forms without the session's CSRF token."""

import html
import re
from collections.abc import Iterator

import pytest

from accord.services.transactions import Database
from tests.functional.api_support import create_token, set_values
from tests.functional.web.web_support import (
    PASSWORD,
    Browser,
    add_web_user,
    hidden_fields,
    text_of,
)
from tests.support import InProcessServer, Legacy, custom_field

TEAMLEAD = "/d/CLIENTS/2"


@pytest.fixture
def admin(server: InProcessServer) -> Iterator[Browser]:
    browser = Browser(server).signed_in()
    yield browser
    browser.close()


def edit_form(browser: Browser, path: str = TEAMLEAD) -> tuple[str, list[tuple[str, str]]]:
    """The edit form's page, and what it would send back unchanged."""
    page = browser.get(f"{path}/edit").text
    sent = hidden_fields(page)
    for name, value in re.findall(r'<input id="f-\d+" name="(f\.[^"]+)" value="([^"]*)"', page):
        sent.append((name, value))
    for select in re.findall(
        r'<select id="f-\d+" name="(f\.[^"]+)"[^>]*>(.*?)</select>', page, re.S
    ):
        name, options = select
        sent += [(name, v) for v in re.findall(r'<option value="([^"]*)" selected>', options)]
    for name in re.findall(
        r'<input id="f-\d+" type="checkbox" name="(f\.[^"]+)" value="on" checked', page
    ):
        sent.append((name, "on"))
    return page, sent


def changed(sent: list[tuple[str, str]], **values: str) -> list[tuple[str, str]]:
    """The form with the fields named (by code) set to new values."""
    names = {f"f.{code}" for code in values}
    return [(n, v) for n, v in sent if n not in names] + [(f"f.{c}", v) for c, v in values.items()]


def field_value(page: str, name: str) -> str:
    """The text a card shows for a field, by its display name."""
    found = re.search(rf"<dt>{re.escape(name)}</dt>\s*<dd[^>]*>(.*?)</dd>", page, re.S)
    assert found is not None, name
    return text_of(found[1])


def test_a_card_shows_every_field_by_its_type(admin: Browser) -> None:
    page = admin.get(TEAMLEAD).text
    assert "<h1>Teamlead</h1>" in page
    assert field_value(page, "Type") == "Partner"
    assert '<a href="https://teamlead.example" hx-boost="false"' in page
    assert re.search(r'<a href="/d/CONTACTS/\d+">Bob Stone</a>', page)  # Contacts
    assert field_value(page, "Notes") == "—"  # empty
    contact = admin.get("/d/CONTACTS/6").text
    assert '<a href="mailto:ted@oceanic.example"' in contact
    assert re.search(r'<a href="/d/CLIENTS/\d+">Oceanic Airlines</a>', contact)


def test_an_edit_is_saved_and_shows_in_the_history(admin: Browser, legacy: Legacy) -> None:
    _, sent = edit_form(admin)
    reply = admin.post(f"{TEAMLEAD}/edit", changed(sent, org_www="teamlead.example.org"))
    assert (reply.status_code, reply.headers["location"]) == (303, TEAMLEAD)
    page = admin.get(TEAMLEAD).text
    assert field_value(page, "Website") == "teamlead.example.org"
    history = page.split('id="history"', 1)[1]
    assert re.search(
        r"<strong>admin</strong> · update <span class=\"edge\">\(web\)</span>", history
    )
    assert re.search(
        r"<th scope=\"row\">Website</th><td><del>teamlead.example</del></td>"
        r"<td><ins>teamlead.example.org</ins></td>",
        history,
    )
    # Only what changed is written, and the legacy API reads what the page wrote.
    latest = history.split("</li>", 1)[0]
    assert latest.count('<th scope="row">') == 1
    company = legacy("getcompanybyname", companyName="Teamlead")
    assert company["org_www"] == "teamlead.example.org"


def test_a_dictionary_is_chosen_from_its_values(admin: Browser) -> None:
    page, sent = edit_form(admin)
    options = re.search(r'name="f\.org_type"[^>]*>(.*?)</select>', page, re.S)
    assert options is not None
    assert ">Lead</option>" in options[1]
    lead = re.search(r'<option value="(\d+)"[^>]*>Lead</option>', options[1])
    assert lead is not None
    admin.post(f"{TEAMLEAD}/edit", changed(sent, org_type=lead[1]))
    assert field_value(admin.get(TEAMLEAD).text, "Type") == "Lead"


def test_several_dictionary_values_are_chosen_at_once(db: Database, admin: Browser) -> None:
    services = custom_field(db, "CLIENTS", "Services")
    page, sent = edit_form(admin)
    options = re.search(rf'name="f\.{services}" multiple>(.*?)</select>', page, re.S)
    assert options is not None
    found = re.findall(r'<option value="(\d+)">(\w+)<', options[1])
    ids = {label: value for value, label in found}
    chosen = [(f"f.{services}", ids["Training"]), (f"f.{services}", ids["Development"])]
    assert admin.post(f"{TEAMLEAD}/edit", sent + chosen).status_code == 303
    card = admin.get(TEAMLEAD).text
    assert field_value(card, "Services") in ("Development, Training", "Training, Development")


def test_errors_show_next_to_their_fields_and_nothing_is_saved(admin: Browser) -> None:
    _, sent = edit_form(admin)
    reply = admin.post(f"{TEAMLEAD}/edit", changed(sent, org_name="", org_www="new.example"))
    assert reply.status_code == 422
    assert "Nothing was saved" in text_of(reply.text)
    name_field = re.search(r'<div class="field invalid">(.*?)</div>', reply.text, re.S)
    assert name_field is not None
    assert "Company name" in name_field[1]
    assert 'class="field-error"' in name_field[1]
    assert 'value="new.example"' in reply.text  # what was typed is kept
    assert field_value(admin.get(TEAMLEAD).text, "Website") == "teamlead.example"


def test_a_stale_edit_says_so_keeps_the_typing_and_merges_on_the_next_save(
    db: Database, admin: Browser
) -> None:
    _, sent = edit_form(admin)
    set_values(db, "CLIENTS", 2, {"org_www": "theirs.example"})  # someone else saves first
    mine = changed(sent, org_name="Teamlead Ltd")
    reply = admin.post(f"{TEAMLEAD}/edit", mine)
    assert reply.status_code == 409
    text = text_of(reply.text)
    assert "Someone else saved this entry while you were editing it" in text
    assert "Saved meanwhile by someone else: theirs.example" in text
    assert 'value="Teamlead Ltd"' in reply.text
    assert field_value(admin.get(TEAMLEAD).text, "Company name") == "Teamlead"
    again = hidden_fields(reply.text) + [
        (n, v) for n, v in changed(sent, org_name="Teamlead Ltd") if n.startswith("f.")
    ]
    assert admin.post(f"{TEAMLEAD}/edit", again).status_code == 303
    card = admin.get(TEAMLEAD).text
    assert field_value(card, "Company name") == "Teamlead Ltd"
    assert field_value(card, "Website") == "theirs.example"  # their change is kept


def test_a_form_without_the_sessions_token_changes_nothing(admin: Browser) -> None:
    _, sent = edit_form(admin)
    forged = [(n, v) for n, v in changed(sent, org_www="forged.example") if n != "csrf"]
    for token in [[], [("csrf", "forged")]]:
        reply = admin.post(f"{TEAMLEAD}/edit", forged + token)
        assert reply.status_code == 403
    assert admin.post("/d/CLIENTS/new", {"f.org_name": "Forged"}).status_code == 403
    assert admin.post(f"{TEAMLEAD}/delete", {"csrf": "forged"}).status_code == 403
    page = admin.get(TEAMLEAD).text
    assert field_value(page, "Website") == "teamlead.example"
    assert "Forged" not in admin.get("/d/CLIENTS?q=forged").text


def test_an_entry_is_created_and_deleted(admin: Browser) -> None:
    form = admin.get("/d/CLIENTS/new").text
    token = dict(hidden_fields(form))["csrf"]
    created = admin.post(
        "/d/CLIENTS/new", {"csrf": token, "f.org_name": "Initrode", "f.org_www": "initrode.example"}
    )
    assert created.status_code == 303
    card = created.headers["location"]
    assert re.fullmatch(r"/d/CLIENTS/\d+", card)
    assert field_value(admin.get(card).text, "Website") == "initrode.example"
    assert "Initrode" in admin.get("/d/CLIENTS?q=initrode").text
    confirm = admin.get(f"{card}/delete")
    assert "Delete Initrode?" in text_of(confirm.text)
    deleted = admin.post(f"{card}/delete", {"csrf": token})
    assert (deleted.status_code, deleted.headers["location"]) == (303, "/d/CLIENTS")
    assert admin.get(card).status_code == 404


def test_a_new_entry_with_errors_is_not_created(admin: Browser) -> None:
    token = dict(hidden_fields(admin.get("/d/CLIENTS/new").text))["csrf"]
    reply = admin.post("/d/CLIENTS/new", {"csrf": token, "f.org_www": "nameless.example"})
    assert reply.status_code == 422
    assert 'class="field-error"' in reply.text
    assert "nameless" not in admin.get("/d/CLIENTS?cols=org_www").text


def test_a_user_who_may_only_read_is_offered_no_change_and_refused_one(
    db: Database, server: InProcessServer
) -> None:
    add_web_user(db, "reader", ["main-menu", "CLIENTS.view"])
    reader = Browser(server).signed_in("reader", PASSWORD)
    card = reader.get(TEAMLEAD).text
    assert "/edit" not in card
    assert "/delete" not in card
    assert "New entry" not in reader.get("/d/CLIENTS").text
    assert reader.get(f"{TEAMLEAD}/edit").status_code == 403
    token = reader.csrf()
    assert reader.post(f"{TEAMLEAD}/edit", {"csrf": token, "version": "1"}).status_code == 403
    assert reader.post(f"{TEAMLEAD}/delete", {"csrf": token}).status_code == 403
    assert reader.post("/d/CLIENTS/new", {"csrf": token, "f.org_name": "X"}).status_code == 403
    assert reader.get(TEAMLEAD).status_code == 200


def test_hostile_values_render_as_text(admin: Browser) -> None:
    _, sent = edit_form(admin)
    hostile = '<script>alert("x")</script>'
    admin.post(f"{TEAMLEAD}/edit", changed(sent, org_name=hostile, org_www="javascript:alert(1)"))
    for page in [admin.get(TEAMLEAD).text, admin.get("/d/CLIENTS?q=script").text]:
        assert hostile not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
        assert 'href="javascript:' not in page


def test_a_form_too_large_is_refused_and_changes_nothing(admin: Browser) -> None:
    _, sent = edit_form(admin)
    huge = changed(sent, clients_notes="x" * 2_000_000)
    reply = admin.post(f"{TEAMLEAD}/edit", huge)
    assert reply.status_code == 413
    assert "The form is too large." in text_of(reply.text)
    assert admin.get(TEAMLEAD).text.count("xxxxxxxxxx") == 0


def test_a_form_that_is_not_a_web_form_is_refused(admin: Browser) -> None:
    reply = admin.http.post(f"{TEAMLEAD}/edit", json={"csrf": admin.csrf()})
    assert reply.status_code == 400
    assert "application/x-www-form-urlencoded" in text_of(reply.text)


@pytest.mark.parametrize("cookie", [None, "forged-session"])
def test_a_strangers_form_is_not_read(server: InProcessServer, cookie: str | None) -> None:
    """Without a live session, a form of any size or kind is sent to sign in, unread."""
    stranger = Browser(server)
    if cookie is not None:
        stranger.http.cookies.set("accord_session", cookie)
    for path in ["/d/CLIENTS/new", f"{TEAMLEAD}/edit", f"{TEAMLEAD}/delete", "/sign-out"]:
        huge = stranger.post(path, {"f.org_name": "x" * 2_000_000})
        odd = stranger.http.post(path, json={"f.org_name": "x"})
        for reply in [huge, odd]:
            assert (reply.status_code, reply.headers["location"]) == (303, "/sign-in")


def _transactions_of(db: Database, server: InProcessServer, company: int, count: int) -> None:
    entries = [
        {"transaction_sale": f"DEAL-{n:02d}", "transaction_company": {"id": company}}
        for n in range(count)
    ]
    response = server.client().post(
        "/api/v1/directories/TRANSACTIONS/entries/batch",
        json={"mode": "create", "entries": entries},
        headers={"authorization": f"Bearer {create_token(db)}"},
    )
    assert response.status_code == 200, response.text


def _related(page: str) -> dict[str, list[str]]:
    """The related sections of a card: heading -> the entries it lists."""
    sections = re.findall(r'<section class="related"[^>]*>(.*?)</section>', page, re.S)
    found = {}
    for section in sections:
        heading = re.search(r"<h2[^>]*>(.*?)</h2>", section, re.S)
        assert heading is not None
        found[text_of(heading[1])] = re.findall(r'<li><a href="[^"]+">([^<]*)</a></li>', section)
    return found


def test_a_card_lists_the_entries_that_link_to_it(admin: Browser) -> None:
    """A company's card lists its transactions (its contacts are its Contacts field);
    a contact's card lists the companies it is the main contact of."""
    card = admin.get(TEAMLEAD).text
    assert _related(card) == {"Transactions (Company)": ["SALES-2"]}
    link = re.search(r'<li><a href="(/d/TRANSACTIONS/\d+)">SALES-2</a>', card)
    assert link is not None
    assert "Add-on" in admin.get(link[1]).text
    contact = admin.get("/d/CONTACTS/1").text
    assert list(_related(contact)) == ["Companies (Main contact)"]


def test_a_card_shows_the_first_related_entries_and_links_to_all(
    db: Database, server: InProcessServer, admin: Browser
) -> None:
    _transactions_of(db, server, 2, 12)
    card = admin.get(TEAMLEAD).text
    listed = _related(card)["Transactions (Company)"]
    assert listed == ["SALES-2", *(f"DEAL-{n:02d}" for n in range(9))]
    everything = re.search(r'<a href="([^"]+)">All Transactions of Teamlead</a>', card)
    assert everything is not None
    whole = admin.get(html.unescape(everything[1])).text
    assert all(f"DEAL-{n:02d}" in whole for n in range(12))
    assert "SALES-1" not in whole  # Acme's and Adobe's


def test_related_entries_of_a_directory_one_may_not_see_are_not_shown(
    db: Database, server: InProcessServer
) -> None:
    add_web_user(db, "reader", ["main-menu", "CLIENTS.view"])
    reader = Browser(server).signed_in("reader", PASSWORD)
    card = reader.get(TEAMLEAD).text
    assert _related(card) == {}
    assert "SALES-2" not in card
