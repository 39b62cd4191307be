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
    page.get_by_label("Search").press_sequentially("teaml")  # htmx asks as one types
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Teamlead")
    expect(page).to_have_url(re.compile(r"q=teaml"))


def test_sort_by_a_header_and_filter(page: Page) -> None:
    signed_in(page)
    page.goto("/d/CLIENTS")
    page.get_by_role("link", name="Company name").click()
    expect(page).to_have_url(re.compile(r"sort=org_name"))
    first = page.locator("table.entries tbody tr td:first-child").first
    expect(first).to_have_text("Acme Corporation")
    expect(page.get_by_role("columnheader", name="Company name")).to_have_attribute(
        "aria-sort", "ascending"
    )
    page.get_by_label("Filter").fill("org_type eq 'Lead'")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.entries tbody tr")).to_have_count(4)
    expect(first).to_have_text("Cyberdyne Systems")


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
