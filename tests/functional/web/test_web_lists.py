"""The home page and a directory's list: rights, columns, sorting, quick search, filters
and cursor paging. The tests only read: they share one demo database and server."""

import re

from accord.services.transactions import Database
from tests.functional.web.web_support import (
    PASSWORD,
    ROW_START,
    Browser,
    add_web_user,
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
ALL_COMPANIES = 16


def names(page: str) -> list[str]:
    """The names in the first column of a list page, in order."""
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(
            ROW_START + r'<a href="/d/[^"]+/\d+">(.*?)</a></td>',
            page,
        )
    ]


def headers(page: str) -> list[str]:
    head = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    cells = re.findall(r'<th scope="col"(?! class="select")[^>]*>(.*?)</th>', head, flags=re.S)
    return [re.sub(r"<[^>]+>|[▲▼]", "", c).strip() for c in cells]


def test_home_lists_the_directories_the_user_may_see(admin: Browser, viewer: Browser) -> None:
    assert re.findall(r'<li><a href="(/d/\w+)">', admin.get("/").text) == [
        "/d/CLIENTS",
        "/d/CONTACTS",
        "/d/PRODUCTS",
        "/d/TRANSACTIONS",
    ]
    assert re.findall(r'<li><a href="(/d/\w+)">', viewer.get("/").text) == ["/d/CLIENTS"]


def test_a_directory_the_user_may_not_see_is_refused(viewer: Browser) -> None:
    for path in ["/d/CONTACTS", "/d/CONTACTS/2", "/d/CONTACTS/2/edit", "/d/CONTACTS/new"]:
        reply = viewer.get(path)
        assert reply.status_code == 403, path
        assert "Permission denied" in text_of(reply.text)
        assert "Ted Johnson" not in reply.text


def test_a_user_without_the_main_menu_sees_nothing(db: Database, server: InProcessServer) -> None:
    add_web_user(db, "outsider", ["CLIENTS.view"])
    browser = Browser(server).signed_in("outsider", PASSWORD)
    assert browser.get("/").status_code == 403
    assert browser.get("/d/CLIENTS").status_code == 403


def test_unknown_directories_and_entries_are_not_found(admin: Browser) -> None:
    assert admin.get("/d/NOPE").status_code == 404
    for entry in ["999", "0", "abc", "9" * 5000]:
        assert admin.get(f"/d/CLIENTS/{entry}").status_code == 404


def test_a_list_shows_every_entry_with_the_chosen_columns(admin: Browser) -> None:
    page = admin.get("/d/CLIENTS").text
    assert len(names(page)) == ALL_COMPANIES
    assert headers(page) == ["Company name", "Type", "Industry", "Website", "SLA", "Main contact"]
    chosen = admin.get("/d/CLIENTS?cols=org_www,org_name").text
    assert headers(chosen) == ["Website", "Company name"]
    picked = admin.get("/d/CLIENTS", params=[("col", "org_name"), ("col", "org_type")]).text
    assert headers(picked) == ["Company name", "Type"]


def test_an_unknown_column_is_said_so(admin: Browser) -> None:
    reply = admin.get("/d/CLIENTS?cols=org_name,nope")
    assert reply.status_code == 400
    assert "No field 'nope' in Companies" in text_of(reply.text)


def test_clicking_a_header_sorts_then_reverses(admin: Browser) -> None:
    page = admin.get("/d/CLIENTS").text
    link = re.search(r'<a href="([^"]+)">Company name</a>', page)
    assert link is not None
    ascending = admin.get(link[1].replace("&amp;", "&")).text
    assert names(ascending) == sorted(names(page), key=str.lower)
    again = re.search(r'<a href="([^"]+)">Company name ▲</a>', ascending)
    assert again is not None
    descending = admin.get(again[1].replace("&amp;", "&")).text
    assert names(descending) == list(reversed(names(ascending)))
    assert 'aria-sort="descending"' in descending


def test_quick_search_finds_by_the_start_of_a_name(admin: Browser) -> None:
    assert names(admin.get("/d/CLIENTS?q=teaml").text) == ["Teamlead"]
    assert names(admin.get("/d/CLIENTS?q=zzzz").text) == []
    assert "No entries." in text_of(admin.get("/d/CLIENTS?q=zzzz").text)


def test_a_filter_takes_the_rest_grammar(admin: Browser) -> None:
    page = admin.get("/d/CLIENTS", params={"filter": "org_type eq 'Lead'"}).text
    assert sorted(names(page)) == [
        "Cyberdyne Systems",
        "Globex",
        "Pied Piper",
        "Wayne Enterprises",
    ]
    both = admin.get(
        "/d/CLIENTS", params={"filter": "org_type eq 'Lead' and org_name startswith 'G'"}
    )
    assert names(both.text) == ["Globex"]


def test_a_bad_filter_is_explained_and_lists_nothing(admin: Browser) -> None:
    reply = admin.get("/d/CLIENTS", params={"filter": "org_type eq"})
    assert reply.status_code == 400
    assert names(reply.text) == []
    assert "Expected a value ('text', a number, true or false) at position 11" in text_of(
        reply.text
    )
    unknown = admin.get("/d/CLIENTS", params={"filter": "nope eq 1"})
    assert unknown.status_code == 400
    assert "nope" in text_of(unknown.text)
    assert 'value="org_type eq"' in reply.text  # the filter stays in its box to fix


def test_pages_follow_by_cursor_and_come_back(admin: Browser) -> None:
    seen: list[str] = []
    pages: list[str] = []
    path: str | None = "/d/CLIENTS?limit=5&sort=org_name"
    while path is not None:
        page = admin.get(path).text
        assert "offset" not in page
        pages.append(path)
        seen += names(page)
        found = re.search(r'<a href="([^"]+)" rel="next">', page)
        path = None if found is None else found[1].replace("&amp;", "&")
    assert len(pages) == 4
    assert seen == sorted(seen, key=str.lower)
    assert len(set(seen)) == ALL_COMPANIES
    last = admin.get(pages[-1]).text
    back = re.search(r'<a href="([^"]+)" rel="prev">', last)
    assert back is not None
    previous = admin.get(back[1].replace("&amp;", "&")).text
    assert names(previous) == seen[10:15]
    first = admin.get(pages[1]).text
    to_first = re.search(r'<a href="([^"]+)" rel="prev">', first)
    assert to_first is not None
    assert names(admin.get(to_first[1].replace("&amp;", "&")).text) == seen[:5]
    assert 'rel="prev"' not in admin.get(pages[0]).text


def test_values_show_by_type(admin: Browser) -> None:
    page = admin.get("/d/CONTACTS?cols=contact_name,contact_email,contact_company").text
    assert '<a href="mailto:ted@oceanic.example"' in page
    assert re.search(r'<a href="/d/CLIENTS/\d+">Oceanic Airlines</a>', page)


def test_a_page_costs_the_same_statements_whatever_its_size(admin: Browser, db: Database) -> None:
    every = "contact_name,contact_email,contact_company,contact_position,contact_phone"
    admin.get(f"/d/CONTACTS?cols={every}&limit=1")  # the session and schema cached
    counts = []
    for limit in (1, 10):
        with statements(db) as sent:
            page = admin.get(f"/d/CONTACTS?cols={every}&limit={limit}").text
        assert len(names(page)) == limit
        counts.append(len(sent))
    assert counts[0] == counts[1] > 0, counts
