"""The text searches of a listing (`icontains`, `contains`, `startswith`, `q`) and the
search across directories answer what a plain scan in Python answers, on random entries
of a custom directory, after renames, deletes and writes rolled back.

Each example empties the directory (deleting its entries through the services: a deleted
entry found later is a failure of its own), creates a few entries, changes some, and
then asks. Needles are drawn from every value written in the example, the values renamed
away, deleted or rolled back included, so that a stale index row would be found. The
rules the scan follows are in `tests.search_support`.
"""

from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.services import directories, listings
from accord.services.transactions import Transaction, open_database, run
from tests.search_support import (
    ADMIN,
    DIRECTORY,
    ENTRY,
    OPS,
    TEXT_FIELDS,
    Catalog,
    Model,
    apply,
    needles,
    prefixes,
    search_texts,
)
from tests.support import Templates

EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def catalog(templates: Templates) -> Iterator[Catalog]:
    """One database and one custom directory for every example of the module."""
    with templates.fresh("empty") as url:
        database = open_database(url, sqlite_synchronous="NORMAL")
        yield Catalog(database)
        database.dispose()


def test_a_directory_added_in_a_write_rolled_back_leaves_no_text_index_behind(
    templates: Templates,
) -> None:
    """On PostgreSQL a directory's texts have a partition of their own, made with it (and
    gone with it when its write rolls back); the directory added again finds its texts."""
    with templates.fresh("empty") as url:
        database = open_database(url, sqlite_synchronous="NORMAL")
        try:
            with pytest.raises(RuntimeError, match="rolled back"):
                run(database, add_then_fail, write=True)
            catalog = Catalog(database)
            catalog.create(Model(), [{"name": "Northwind Traders", "note": "a wind"}])
            assert catalog.found("wind") == [1]
            assert catalog.filtered("note", "icontains", "WIND") == [1]
            with database.transaction(write=False) as tx:
                directory_ids = [d.id for d in tx.schema.directories]
                partitions = partitions_of_the_text_index(tx.connection)
        finally:
            database.dispose()
    if partitions is not None:
        assert sorted(partitions) == sorted(f"entry_texts_{i}" for i in directory_ids)


def add_then_fail(tx: Transaction) -> None:
    directories.add_directory(tx, DIRECTORY, "Gone", actor=ADMIN)
    raise RuntimeError("rolled back")


def partitions_of_the_text_index(connection: sa.Connection) -> list[str] | None:
    if connection.dialect.name == "sqlite":
        return None
    sql = (
        "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'entry_texts'::regclass"
    )
    return list(connection.exec_driver_sql(sql).scalars())


def prepared(catalog: Catalog, data: st.DataObject) -> Model:
    """The directory emptied, then a few entries created and some of them changed."""
    catalog.clear()
    model = Model()
    catalog.create(model, data.draw(st.lists(ENTRY, max_size=8), label="entries"))
    apply(catalog, model, data.draw(OPS, label="changes"))
    return model


def check_filter(catalog: Catalog, data: st.DataObject, op: str) -> None:
    model = prepared(catalog, data)
    for _ in range(data.draw(st.integers(1, 4), label="searches")):
        name = data.draw(st.sampled_from(TEXT_FIELDS), label="field")
        if op == "startswith":
            values = [r.values[name] for r in model.records.values() if name in r.values]
            needle = data.draw(prefixes(values or model.written), label="prefix")
        else:
            needle = data.draw(needles(model.written), label="needle")
        expected = model.filtered(name, op, needle)
        assert catalog.filtered(name, op, needle) == expected, f"{name} {op} {needle!r}"


@EXAMPLES
@given(data=st.data())
def test_icontains_finds_a_piece_of_a_whole_value_in_either_case_or_look_alikes(
    catalog: Catalog, data: st.DataObject
) -> None:
    check_filter(catalog, data, "icontains")


@EXAMPLES
@given(data=st.data())
def test_contains_finds_exactly_the_values_holding_the_piece_as_typed(
    catalog: Catalog, data: st.DataObject
) -> None:
    check_filter(catalog, data, "contains")


@EXAMPLES
@given(data=st.data())
def test_startswith_finds_the_values_starting_so_in_either_case(
    catalog: Catalog, data: st.DataObject
) -> None:
    check_filter(catalog, data, "startswith")


def texts_typed(model: Model, data: st.DataObject) -> Iterator[str]:
    names = [r.values["name"] for r in model.records.values()]
    for _ in range(data.draw(st.integers(1, 3), label="searches")):
        yield data.draw(search_texts(names, model.written), label="q")


@EXAMPLES
@given(data=st.data())
def test_q_finds_the_entries_holding_every_word_in_some_text_field(
    catalog: Catalog, data: st.DataObject
) -> None:
    model = prepared(catalog, data)
    for text in texts_typed(model, data):
        for sort in ("id", "-id"):
            assert catalog.found(text, sort=sort) == model.found(text, sort), f"q={text!r}"


@EXAMPLES
@given(data=st.data())
def test_q_without_a_sort_lists_names_starting_with_the_words_first(
    catalog: Catalog, data: st.DataObject
) -> None:
    model = prepared(catalog, data)
    for text in texts_typed(model, data):
        assert catalog.found(text) == model.found(text), f"q={text!r}"


@EXAMPLES
@given(data=st.data())
def test_the_search_across_directories_gives_the_first_entries_in_q_order(
    catalog: Catalog, data: st.DataObject
) -> None:
    model = prepared(catalog, data)
    for text in texts_typed(model, data):
        limit = data.draw(st.integers(1, 5), label="limit")
        expected = model.found(text)
        result = catalog.searched(text, limit).get(DIRECTORY)
        if not expected:
            assert result is None, f"q={text!r}: {result}"
            continue
        assert result is not None, f"q={text!r}: nothing found"
        assert [(f.id, f.name) for f in result.entries] == [
            (i, model.records[i].values["name"]) for i in expected[:limit]
        ], f"q={text!r}"
        assert result.more == (len(expected) > limit)


@settings(EXAMPLES, max_examples=30)
@given(data=st.data())
def test_pages_read_with_the_cursor_make_the_one_big_page(
    catalog: Catalog, data: st.DataObject
) -> None:
    """Whatever the big page holds (the tests above check that): the pages give it again,
    each entry once, in its order."""
    model = prepared(catalog, data)
    kind = data.draw(st.sampled_from(["all", "icontains", "q", "q by id", "q by -id"]))
    if kind == "icontains":
        needle = data.draw(needles(model.written), label="needle")
        query = listings.ListQuery(filter=catalog.filter("name", "icontains", needle))
    else:
        names = [r.values["name"] for r in model.records.values()]
        text = "" if kind == "all" else data.draw(search_texts(names, model.written), label="q")
        sort = {"q by id": "id", "q by -id": "-id"}.get(kind, "")
        query = listings.ListQuery(text=text, sort=sort)
    limit = data.draw(st.integers(1, 3), label="limit")
    pages = list(catalog.paged(replace(query, limit=limit)))
    assert all(len(page) <= limit for page in pages), pages
    assert all(pages[:-1]), f"an empty page before the last: {pages}"
    assert [i for page in pages for i in page] == catalog.listed(query)
