"""Every search shape reads the value and text indexes, whatever the planner's statistics.

Each test runs a search through the services, catches the statements that read the
entries, and asks the database for their plans (EXPLAIN QUERY PLAN on SQLite, EXPLAIN
(FORMAT JSON) on PostgreSQL) on a directory of a few thousand contacts, as loaded (never
analysed) and after ANALYZE. A plan passes when it scans no table in full and every
probe made once per entry finds that entry's rows (through `entry_pk`, or the text
index's rowid on SQLite; on PostgreSQL, also the holders of one key), never by reading
a field's values: that plan (SQLite's for icontains, on a database never analysed) took
seconds a page. The text index itself is searched (a MATCH on SQLite, its trigram index
on PostgreSQL) only once per statement, never per entry.
"""

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import sqlalchemy as sa

from accord.domain.entries import Entry
from accord.domain.filters import parse_filter
from accord.domain.schema import CONTACTS
from accord.domain.users import Actor
from accord.services import batches, entries, listings
from accord.services.batches import Mode
from accord.services.transactions import Database, Transaction, open_database, run
from accord.store import driver, migrate
from tests.support import Templates

CONTACTS_LOADED = 3000
ADMIN = Actor.system("api")
SURNAMES = ("Ivanov", "Petrova", "Smith", "Jones", "Garcia", "Rossi", "Novak", "Dubois")
VALUE_INDEXES = ("pk_entry_values", "ix_entry_values_entry_pk_field_id_key")
TEXT_PARTITION = re.compile(r"entry_texts_\d+")
"""PostgreSQL's text index: a partition per directory, each with the partitioned table's
indexes under names PostgreSQL gives them (from the partition's and the columns')."""
TEXT_INDEX = re.compile(r"entry_texts_\d+_(entry_pk_field_id_idx|text_idx|field_id_left_idx)")


def _name(number: int) -> str:
    return f"Anna {SURNAMES[number % len(SURNAMES)]} {number:05d}"


@pytest.fixture(scope="module")
def loaded(templates: Templates) -> Iterator[dict[str, str]]:
    """Two copies of a database of `CONTACTS_LOADED` contacts: "never analysed" (as
    loaded; on SQLite without any statistics) and "analysed"."""
    with templates.fresh("empty") as url:
        database = open_database(url, sqlite_synchronous="NORMAL")
        run(database, _load, write=True)
        database.dispose()
        _forget_statistics(url)
        with _copy(templates, url) as analysed:
            database = open_database(analysed, sqlite_synchronous="NORMAL")
            with database.engine.begin() as connection:
                migrate.analyse(connection)
            database.dispose()
            yield {"never analysed": url, "analysed": analysed}


def _forget_statistics(url: str) -> None:
    """SQLite: no statistics, as on a database never analysed (closing a connection runs
    `PRAGMA optimize`, which may have analysed it since). PostgreSQL keeps what the
    migrations' ANALYZE saw, the empty tables: the stale statistics of a loaded database."""
    if sa.make_url(url).get_backend_name() != "sqlite":
        return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
    engine.dispose()


def _copy(templates: Templates, url: str) -> AbstractContextManager[str]:
    """A new database copied from `url`, statistics and all (dropped afterwards)."""
    templates._urls["loaded"] = url
    return templates.fresh("loaded")


def _load(tx: Transaction) -> None:
    directory = tx.schema.directory_by_code(CONTACTS)
    for start in range(1, CONTACTS_LOADED + 1, 1000):
        items: list[dict[str, object]] = [
            {
                "contact_name": _name(n),
                "contact_email": f"person{n}@example.org",
                "contact_phone": f"+1 555 {n:06d}",
            }
            for n in range(start, start + 1000)
        ]
        outcomes = batches.write_batch(tx, directory, items, mode=Mode.CREATE, actor=ADMIN)
        assert all(o.entry is not None for o in outcomes)


Search = Callable[[Transaction], object]


def _page(filter_text: str = "", text: str = "") -> Search:
    def work(tx: Transaction) -> object:
        directory = tx.schema.directory_by_code(CONTACTS)
        query = listings.ListQuery(
            filter=parse_filter(filter_text) if filter_text else None, text=text, limit=20
        )
        return listings.list_entries(tx, directory, query, actor=ADMIN)

    return work


def _legacy(**terms: str) -> Search:
    def work(tx: Transaction) -> list[Entry]:
        directory = tx.schema.directory_by_code(CONTACTS)
        pairs = [(tx.schema.find_field(directory, k), v) for k, v in terms.items()]
        return list(entries.search_entries(tx, directory, pairs, actor=ADMIN))

    return work


SHAPES: dict[str, Search] = {
    "eq": _page(f"contact_name eq '{_name(1500)}'"),
    "eq and icontains": _page(
        f"contact_name eq '{_name(1500)}' and contact_email icontains 'son1'"
    ),
    "icontains": _page("contact_name icontains 'jones 01234'"),
    "contains": _page("contact_name contains 'Jones 01234'"),
    "startswith": _page("contact_name startswith 'anna smith 0123'"),
    "icontains, two characters": _page("contact_name icontains 'z9'"),
    "q": _page(text="garcia 0099"),
    "q, two words": _page(text="0099 garcia"),
    "q, a common word": _page(text="anna"),
    "range": _page("contact_name gt 'anna smith 02990'"),
    "legacy, one pair": _legacy(contact_name=_name(1234)),
    "legacy, two pairs": _legacy(contact_name=_name(1234), contact_email="person1234@example.org"),
}


@pytest.mark.parametrize("statistics", ["never analysed", "analysed"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_each_search_shape_reads_the_value_index(
    loaded: dict[str, str], statistics: str, shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if statistics == "never analysed":
        _forget_statistics(loaded[statistics])
    database = open_database(loaded[statistics], sqlite_synchronous="NORMAL")
    try:
        statements = _statements_of(database, SHAPES[shape], monkeypatch)
        assert statements, "the search ran no statement on the entries"
        with database.engine.connect() as connection:
            for sql, params in statements:
                if database.embedded:
                    _check_sqlite(connection, sql, params)
                else:
                    _check_postgresql(connection, sql, params)
    finally:
        database.dispose()


def _statements_of(
    database: Database, search: Search, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, Any]]:
    """The statements reading entries that `search` runs (through SQLAlchemy or the driver)."""
    caught: list[tuple[str, Any]] = []

    def keep(sql: str, params: Any) -> None:
        # `listing._holders` (a bounded count) is no page: left out.
        if "entries" in sql and "count(*)" not in sql:
            caught.append((sql, tuple(params) if isinstance(params, list) else params))

    def on_driver(connection: sa.Connection, sql: str, params: Any = ()) -> Any:
        keep(sql, params)
        return real(connection, sql, params)

    real = driver.execute
    monkeypatch.setattr(driver, "execute", on_driver)
    listener = lambda _c, _cur, sql, params, _ctx, _many: keep(sql, params)  # noqa: E731
    sa.event.listen(database.engine, "before_cursor_execute", listener)
    try:
        run(database, search, write=False)
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", listener)
    # Point reads of names (`names`) and the like read no value index and no directory.
    return [(sql, p) for sql, p in caught if "entry_values" in sql or "directory_id" in sql]


def _check_sqlite(connection: sa.Connection, sql: str, params: Any) -> None:
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
    details = {row[0]: (row[1], row[3]) for row in rows}
    plan = "\n".join(detail for _, detail in details.values())
    correlated = {i for i, (_, d) in details.items() if d.startswith("CORRELATED")}

    def under_correlated(node: int) -> bool:
        while node:
            if node in correlated:
                return True
            node = details[node][0] if node in details else 0
        return False

    for parent, detail in details.values():
        if " VIRTUAL TABLE INDEX " in detail:
            _check_text_index(detail, per_entry=under_correlated(parent), plan=plan)
            continue
        assert not detail.startswith("SCAN "), f"a full scan in\n{plan}\nfor\n{sql}"
        if "entry_values" not in detail and detail.split()[1:2] != ["held"]:
            continue
        assert any(name in detail for name in (*VALUE_INDEXES, "PRIMARY KEY")), plan
        if under_correlated(parent):
            # Once per entry: the entry's own rows, not every value of the field.
            assert "entry_pk=" in detail, f"a probe reads a field's values per entry:\n{plan}"


def _check_text_index(detail: str, *, per_entry: bool, plan: str) -> None:
    """SQLite's FTS5 plan: `INDEX n:<how>`, where `M` is a MATCH and `=`, `<`, `>` are
    rowid bounds; nothing is a full scan of the index."""
    how = detail.rsplit(":", 1)[1]
    assert how, f"a full scan of the text index:\n{plan}"
    if per_entry:
        assert "M" not in how, f"a MATCH per entry:\n{plan}"
        assert "=" in how or ">" in how, f"not the entry's own rows:\n{plan}"


def _check_postgresql(connection: sa.Connection, sql: str, params: Any) -> None:
    ((explained,),) = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params).all()
    plan = explained[0]["Plan"]

    def walk(node: dict[str, Any], per_row: bool) -> Iterator[tuple[dict[str, Any], bool]]:
        yield node, per_row
        children = node.get("Plans", [])
        # What a Materialize holds is read once and kept: each row of a loop reads the
        # kept rows, not the index (the probes here take no parameter from the loop).
        once = node["Node Type"] == "Materialize"
        for index, child in enumerate(children):
            inner = node["Node Type"] == "Nested Loop" and index == 1
            sub = child.get("Parent Relationship") == "SubPlan"
            yield from walk(child, (per_row or inner or sub) and not once)

    shown = str(explained)
    partitions = set()
    for node, per_row in walk(plan, False):
        relation = node.get("Relation Name")
        kind = node["Node Type"]
        if relation == "entries":
            assert kind != "Seq Scan", f"a full scan of the entries:\n{shown}"
        if TEXT_PARTITION.fullmatch(relation or ""):
            partitions.add(relation)
            _check_text_node(node, per_row, shown)
        if relation != "entry_values":
            continue
        assert kind != "Seq Scan", f"a full scan of the value index:\n{shown}"
        if kind == "Bitmap Heap Scan":
            continue  # its Bitmap Index Scan child names the index
        assert node.get("Index Name") in VALUE_INDEXES, shown
        if per_row:
            # Once per row: that entry's rows, or the holders of one key (one search each).
            found_by = node.get("Index Cond", "")
            assert "entry_pk" in found_by or "(key = " in found_by, f"a per-entry scan:\n{shown}"
    # The searched directory's partition of the text index, and no other's.
    assert len(partitions) == ("entry_texts" in sql), f"text partitions {partitions}:\n{shown}"


def _check_text_node(node: dict[str, Any], per_row: bool, shown: str) -> None:
    """The text index: searched once per statement (its trigrams; or, for a few thousand
    rows, rightly read whole once), or an entry's own rows."""
    kind = node["Node Type"]
    if kind in ("Seq Scan", "Bitmap Heap Scan"):
        assert not per_row, f"a trigram search per entry:\n{shown}"
        return
    assert TEXT_INDEX.fullmatch(node.get("Index Name", "")), shown
    if per_row:
        assert "entry_pk" in node.get("Index Cond", ""), f"a per-entry scan:\n{shown}"


@pytest.mark.parametrize(
    ("search", "expected"), [(_page(text="garcia 0099"), "force_custom_plan"), (_page(), "auto")]
)
def test_searches_are_planned_for_their_values_not_for_any(
    loaded: dict[str, str], search: Search, expected: str
) -> None:
    """PostgreSQL: a generic plan of a prepared statement (kept after a few runs) cannot
    know how many texts hold a piece; a page with a condition asks for plans made for its
    values, for its transaction only. A page without one keeps the default."""
    database = open_database(loaded["analysed"], sqlite_synchronous="NORMAL")
    try:
        if database.embedded:
            pytest.skip("SQLite plans each statement for its values")

        def work(tx: Transaction) -> str:
            search(tx)
            return str(tx.connection.exec_driver_sql("SHOW plan_cache_mode").scalar_one())

        assert run(database, work, write=False) == expected
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW plan_cache_mode").scalar_one() == "auto"
    finally:
        database.dispose()


def test_statistics_leave_the_text_index_out(loaded: dict[str, str]) -> None:
    """SQLite: ANALYZE (after every upgrade, as on an empty database) records figures for
    the entries' tables and none for the text index's own: figures taken while it was
    empty ("2 rows") made each write to it several times slower as it grew."""
    url = loaded["analysed"]
    if sa.make_url(url).get_backend_name() != "sqlite":
        pytest.skip("PostgreSQL keeps its statistics in autovacuum's care")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            migrate.analyse(connection)
            analysed = {
                row[0] for row in connection.exec_driver_sql("SELECT tbl FROM sqlite_stat1")
            }
    finally:
        engine.dispose()
    assert {"entries", "entry_values"} <= analysed
    assert not {name for name in analysed if name.startswith("entry_texts")}
