"""Link pickers in the edit form (the entry chosen is the one saved, by its id; the plain
input still works without JavaScript), and hostile names in search results and pickers."""

import re

from accord.services.transactions import Database
from tests.functional.api_support import set_values
from tests.functional.web.test_web_cards import TEAMLEAD, admin, changed, edit_form, field_value
from tests.functional.web.web_support import Browser, hidden_fields, text_of

USES = (admin,)
TED = "/d/CONTACTS/6"
"""Ted Johnson, of Oceanic Airlines (company 15)."""


def company_of(browser: Browser, path: str = TED) -> str:
    """The company link a contact's card shows: its href and text."""
    card = browser.get(path).text
    found = re.search(r"<dt>Company</dt>\s*<dd[^>]*>(.*?)</dd>", card, re.S)
    assert found is not None
    return found[1].strip()


def test_a_link_field_is_a_picker_over_its_target_directory(admin: Browser) -> None:
    page = admin.get(f"{TED}/edit").text
    company = re.search(
        r'<input id="(f-\d+)" name="f\.contact_company" value="([^"]*)"[^>]*>', page
    )
    assert company is not None
    assert company[2] == "Oceanic Airlines"
    assert 'data-picker="/d/CLIENTS/pick"' in company[0]
    assert 'autocomplete="off"' in company[0]
    listbox = f'<ul id="{company[1]}-options" class="options" role="listbox"'
    assert listbox in page
    assert "The name of an entry of Companies: type a few letters to pick one." in text_of(page)


def test_the_entry_picked_is_saved_by_its_id(admin: Browser) -> None:
    _, sent = edit_form(admin, TED)
    chosen = [*changed(sent, contact_company="Globex"), ("pick.contact_company", "4:Globex")]
    assert admin.post(f"{TED}/edit", chosen).status_code == 303
    assert company_of(admin) == '<a href="/d/CLIENTS/4">Globex</a>'


def test_a_name_two_entries_share_is_the_one_picked(db: Database, admin: Browser) -> None:
    set_values(db, "CONTACTS", 7, {"contact_name": "Ted Johnson"})  # two Ted Johnsons now
    _, sent = edit_form(admin, TEAMLEAD)
    chosen = [*changed(sent, org_contact="Ted Johnson"), ("pick.org_contact", "7:Ted Johnson")]
    assert admin.post(f"{TEAMLEAD}/edit", chosen).status_code == 303
    card = admin.get(TEAMLEAD).text
    assert re.search(r"<dt>Main contact</dt>\s*<dd[^>]*><a href=\"/d/CONTACTS/7\">", card)


def test_a_pick_whose_name_was_typed_over_is_left_out(admin: Browser) -> None:
    _, sent = edit_form(admin, TED)
    typed_over = [*changed(sent, contact_company="Teamlead"), ("pick.contact_company", "4:Globex")]
    assert admin.post(f"{TED}/edit", typed_over).status_code == 303
    assert company_of(admin) == '<a href="/d/CLIENTS/2">Teamlead</a>'


def test_without_javascript_a_typed_name_still_links(admin: Browser) -> None:
    _, sent = edit_form(admin, TED)
    assert admin.post(f"{TED}/edit", changed(sent, contact_company="Adobe")).status_code == 303
    assert company_of(admin) == '<a href="/d/CLIENTS/3">Adobe</a>'


def test_a_forged_pick_is_refused_by_its_field_and_nothing_is_saved(admin: Browser) -> None:
    _, sent = edit_form(admin, TED)
    forged = [
        *changed(sent, contact_company="Nowhere", contact_phone="+1 555 9999"),
        ("pick.contact_company", "999999:Nowhere"),
    ]
    reply = admin.post(f"{TED}/edit", forged)
    assert reply.status_code == 422
    error = re.search(r'<p class="field-error" id="f-\d+-error">(.*?)</p>', reply.text)
    assert error is not None
    assert "Company" in error[1]
    assert ("pick.contact_company", "999999:Nowhere") in hidden_fields(reply.text)  # kept
    assert company_of(admin) == '<a href="/d/CLIENTS/15">Oceanic Airlines</a>'
    assert field_value(admin.get(TED).text, "Phone") == "+1 555 0106"


def test_a_new_entry_takes_a_pick(admin: Browser) -> None:
    token = admin.csrf()
    form = {
        "csrf": token,
        "f.contact_name": "Zoe Picked",
        "f.contact_company": "Globex",
        "pick.contact_company": "4:Globex",
    }
    created = admin.post("/d/CONTACTS/new", form)
    assert created.status_code == 303
    assert company_of(admin, created.headers["location"]) == '<a href="/d/CLIENTS/4">Globex</a>'


def test_hostile_names_render_as_text_in_search_and_pickers(db: Database, admin: Browser) -> None:
    hostile = '<script>alert("x")</script> Globex'
    set_values(db, "CLIENTS", 4, {"org_name": hostile})
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Globex"
    for path in ["/search", "/search/suggest", "/d/CLIENTS/pick"]:
        page = admin.get(path, params={"q": "globex"}).text
        assert "<script>" not in page.replace('<script src="/static/', ""), path
        assert escaped in page, path
    searched = admin.get("/search", params={"q": '"><img src=x onerror=alert(1)>'}).text
    assert "<img src=x" not in searched
    assert "&lt;img src=x onerror=alert(1)&gt;" in searched
