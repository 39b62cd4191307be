"""The web UI in a real browser: sign in, open a list, search, open a card, edit and
save, see the history."""

import re

from playwright.sync_api import Page, expect

from accord.services.demo import ADMIN_PASSWORD


def sign_in(page: Page, password: str = ADMIN_PASSWORD) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.get_by_label("Login").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page: Page) -> None:
    sign_in(page)
    expect(page.get_by_role("heading", name="Directories")).to_be_visible()


def test_a_wrong_password_is_said_so(page: Page) -> None:
    sign_in(page, "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong login or password")
    expect(page.get_by_label("Login")).to_have_value("admin")


def test_sign_in_then_open_a_list_and_search(page: Page) -> None:
    signed_in(page)
    page.get_by_role("link", name="Companies").click()
    expect(page.get_by_role("heading", name="Companies")).to_be_visible()
    rows = page.locator("table.entries tbody tr")
    expect(rows).to_have_count(16)
    page.get_by_label("Search", exact=True).press_sequentially("teaml")  # htmx asks as one types
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Teamlead")
    expect(page).to_have_url(re.compile(r"q=teaml"))


def test_sort_by_a_header_and_filter(page: Page) -> None:
    signed_in(page)
    page.goto("/d/CLIENTS")
    page.get_by_role("link", name="Company name").click()
    expect(page).to_have_url(re.compile(r"sort=org_name"))
    first = page.locator("table.entries tbody tr td:not(.select)").first
    expect(first).to_have_text("Acme Corporation")
    expect(page.get_by_role("columnheader", name="Company name")).to_have_attribute(
        "aria-sort", "ascending"
    )
    page.get_by_label("Filter").fill("org_type eq 'Lead'")
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.locator("table.entries tbody tr")).to_have_count(4)
    expect(first).to_have_text("Cyberdyne Systems")


def test_select_rows_and_set_a_field_on_them(page: Page) -> None:
    signed_in(page)
    page.goto("/d/CLIENTS?sort=org_name&cols=org_name,org_type")
    page.get_by_label("Select Acme Corporation", exact=True).check()
    page.get_by_label("Select Adobe", exact=True).check()
    page.get_by_label("Action").select_option("set")
    page.get_by_label("Field").select_option("org_type")
    page.get_by_label("to", exact=True).fill("Vendor")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page).to_have_url(re.compile(r"/d/CLIENTS\?sort=org_name"))
    rows = page.locator("table.entries tbody tr")
    cells = "td:not(.select)"
    expect(rows.nth(0).locator(cells)).to_have_text(["Acme Corporation", "Vendor"])
    expect(rows.nth(1).locator(cells)).to_have_text(["Adobe", "Vendor"])
    expect(rows.nth(2).locator(cells).nth(1)).not_to_have_text("Vendor")


def test_open_a_card_edit_it_and_see_the_history(page: Page) -> None:
    signed_in(page)
    page.goto("/d/CLIENTS?q=globex")
    page.get_by_role("link", name="Globex", exact=True).click()
    expect(page.get_by_role("heading", name="Globex", exact=True)).to_be_visible()
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Website").fill("globex.example.com")
    page.get_by_label("Type").select_option("Client")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/d/CLIENTS/\d+$"))
    expect(page.get_by_role("link", name="globex.example.com")).to_be_visible()
    latest = page.locator(".timeline li").first
    expect(latest).to_contain_text("admin")
    website = latest.get_by_role("row", name=re.compile("^Website"))
    expect(website.locator("del")).to_have_text("globex.example")
    expect(website.locator("ins")).to_have_text("globex.example.com")
    kind = latest.get_by_role("row", name=re.compile("^Type"))
    expect(kind.locator("del")).to_have_text("Lead")
    expect(kind.locator("ins")).to_have_text("Client")


def test_search_everywhere_as_one_types_then_open_a_result(page: Page) -> None:
    signed_in(page)
    box = page.get_by_role("searchbox", name="Search everywhere")
    page.keyboard.press("/")  # the shortcut focuses the box
    expect(box).to_be_focused()
    page.keyboard.type("globex")
    dropdown = page.locator("#everywhere-results")
    expect(dropdown.get_by_role("link", name="Dan Brown")).to_be_visible()
    page.keyboard.press("ArrowDown")  # into the dropdown, by the keyboard
    expect(dropdown.get_by_role("link", name="Globex", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Globex", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/d/CLIENTS/4$"))
    filter_box = page.get_by_label("Filter")
    page.goto("/d/CLIENTS")
    filter_box.press_sequentially("a/b")  # "/" typed in a field is only a character
    expect(filter_box).to_have_value("a/b")
    expect(filter_box).to_be_focused()
    box.fill("teamlead")
    box.press("Enter")  # the whole results page
    expect(page.get_by_role("heading", name="Products")).to_be_visible()
    expect(page.get_by_role("link", name="CRM for Jira")).to_be_visible()


def test_pick_a_linked_entry_as_one_types(page: Page) -> None:
    signed_in(page)
    page.goto("/d/CONTACTS/6/edit")
    company = page.get_by_label("Company", exact=True)
    company.fill("")
    expect(company).to_have_attribute("role", "combobox")  # a picker once JavaScript runs
    company.press_sequentially("glob")
    option = page.get_by_role("option", name="Globex")
    expect(option).to_be_visible()
    expect(company).to_have_attribute("aria-expanded", "true")
    company.press("ArrowDown")
    company.press("Enter")  # chosen: the form is not sent yet
    expect(company).to_have_value("Globex")
    expect(option).to_be_hidden()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/d/CONTACTS/6$"))
    expect(page.get_by_role("link", name="Globex")).to_have_attribute("href", "/d/CLIENTS/4")


def test_drag_a_card_to_another_column_of_the_board(page: Page) -> None:
    signed_in(page)
    page.goto("/d/CLIENTS")
    page.get_by_role("link", name="Board").click()
    expect(page.get_by_role("heading", name="Companies by Type")).to_be_visible()
    partner = page.locator("section.column", has=page.get_by_role("heading", name="Partner"))
    card = page.locator("li.card", has=page.get_by_role("link", name="Pied Piper"))
    expect(card).to_have_attribute("draggable", "true")
    with page.expect_response(re.compile(r"/board\?by=org_type$")):  # sent, then redrawn
        card.drag_to(partner, source_position={"x": 4, "y": 4})  # the card, not its select
    expect(partner.get_by_role("link", name="Pied Piper")).to_be_visible()
    page.reload()  # saved, not only moved on the page
    expect(partner.get_by_role("link", name="Pied Piper")).to_be_visible()
    moved = partner.locator("li.card", has=page.get_by_role("link", name="Pied Piper"))
    expect(moved.get_by_label("Move Pied Piper to")).to_have_value(re.compile(r"^\d+$"))
    moved.get_by_label("Move Pied Piper to").select_option("Lead")  # without dragging
    moved.get_by_role("button", name="Move").click()
    lead = page.locator("section.column", has=page.get_by_role("heading", name="Lead"))
    expect(lead.get_by_role("link", name="Pied Piper")).to_be_visible()


def test_an_admin_grants_a_right_and_the_matrix_shows_it(page: Page) -> None:
    signed_in(page)
    page.get_by_role("link", name="Administration").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Rights").click()
    expect(page.get_by_role("heading", name="Rights")).to_be_visible()
    cell = page.get_by_role("button", name="Edit Products for group Sales")
    expect(cell).to_have_attribute("aria-pressed", "false")
    cell.click()
    expect(page.get_by_role("status")).to_have_text("The right was granted.")
    expect(cell).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(page.get_by_role("button", name="Edit Products for group Sales")).to_have_attribute(
        "aria-pressed", "true"
    )
