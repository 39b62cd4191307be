"""Text searches checked against a plain scan: a custom directory written through the
services, the same entries kept in Python (`Model`), what each search must answer worked
out from them alone, and Hypothesis strategies for data that makes collisions likely.

The rules (the search rules of issue 17):
- a text value's search form is `search_form(value)`: case folded, then the Cyrillic
  look-alikes read as Latin; text fields are those of type text, e-mail and URL, the
  directory's name field included;
- `icontains 'X'`: some value of the field, in search form, holds search_form(X), whatever
  the value's length; `contains 'X'`: the stored value holds X exactly;
  `startswith 'X'`: casefold(value) starts with casefold(X) (no look-alikes);
- `q=T`: every word of T (split at white space), in search form, is in the search form of
  the name or of some text field's value; with no sort, first the entries whose name's
  search form starts with the words joined by one space, then the others, each group in
  id order.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import strategies as st

from accord.domain.entries import Entry, EntryRef
from accord.domain.filters import Filter, parse_filter
from accord.domain.query import PREFIX_LIMIT
from accord.domain.schema import Directory, FieldType
from accord.domain.text import fold, search_form
from accord.domain.users import Actor
from accord.domain.values import RawValue
from accord.services import directories, entries, listings, search
from accord.services.transactions import Database, Transaction, run

ADMIN = Actor.system("api")
DIRECTORY = "SEARCHED"
TEXT_FIELDS = ("name", "note", "mail", "site")
"""The text fields of the directory (the name field first), by the names tests use."""
NUMBER_FIELD = "count"
ALL_ENTRIES = 1000  # list_entries' largest page: more than an example ever holds

# A few Latin letters in both cases, their Cyrillic look-alikes, a letter with a
# diacritic, "ß" (case folded: "ss"), a digit (also a number field's), what LIKE and the
# filter grammar treat specially, and a space: collisions between values are likely.
LATIN = "aAcCeoOpPsS"
CYRILLIC = "асоеЕРС"
ALPHABET = LATIN + CYRILLIC + "éß1_%' "
NO_SPACE = ALPHABET.replace(" ", "")
LOOK_ALIKES = dict(zip("acoepACOEP", "асоерАСОЕР", strict=True))
LOOK_ALIKES |= {cyrillic: latin for latin, cyrillic in LOOK_ALIKES.items()}


@dataclass
class Record:
    """One entry as the model holds it: its stored values (stripped, never empty)."""

    id: int
    values: dict[str, str]

    def texts(self) -> list[str]:
        return [self.values[name] for name in TEXT_FIELDS if name in self.values]


@dataclass
class Model:
    """The entries of the directory as the services were asked to leave them."""

    records: dict[int, Record] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    """Every text value ever written in this example (renamed, deleted and rolled-back ones
    too): where needles are drawn from, so a stale index row would be found."""

    def in_id_order(self) -> list[Record]:
        return [self.records[i] for i in sorted(self.records)]

    def filtered(self, name: str, op: str, needle: str) -> list[int]:
        """The ids `filter=<name> <op> 'needle'` finds, in id order."""
        test = _TESTS[op]
        return [
            r.id for r in self.in_id_order() if name in r.values and test(r.values[name], needle)
        ]

    def found(self, text: str, sort: str = "") -> list[int]:
        """The ids `q=text` finds, in the order asked (no sort: relevance, then id)."""
        words = [search_form(word) for word in text.split()]
        matches = [
            r
            for r in self.in_id_order()
            if all(any(w in search_form(v) for v in r.texts()) for w in words)
        ]
        ids = [r.id for r in matches]
        if sort == "id":
            return ids
        if sort == "-id":
            return ids[::-1]
        start = " ".join(words)
        first = [r.id for r in matches if search_form(r.values["name"]).startswith(start)]
        return first + [i for i in ids if i not in first]


_TESTS: dict[str, Callable[[str, str], bool]] = {
    "icontains": lambda value, needle: search_form(needle) in search_form(value),
    "contains": lambda value, needle: needle in value,
    "startswith": lambda value, needle: fold(value).startswith(fold(needle)),
}


def stored(raw: str | int | None) -> str | None:
    """What a field keeps of a value typed: trimmed; nothing when empty."""
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


# The directory, written through the services


class Catalog:
    """The custom directory searched: a name, a note (text), a mail (e-mail) and a site
    (URL), and a number field that no text search may read."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.codes: dict[str, str] = run(database, self._create, write=True)

    @staticmethod
    def _create(tx: Transaction) -> dict[str, str]:
        directory = directories.add_directory(tx, DIRECTORY, "Searched things", actor=ADMIN)
        codes = {"name": directory.name_field}
        kinds = {
            "note": FieldType.TEXT,
            "mail": FieldType.EMAIL,
            "site": FieldType.URL,
            NUMBER_FIELD: FieldType.NUMBER,
        }
        for name, kind in kinds.items():
            codes[name] = directories.add_field(tx, DIRECTORY, name.title(), kind, actor=ADMIN).code
        return codes

    def directory(self, tx: Transaction) -> Directory:
        return tx.schema.directory_by_code(DIRECTORY)

    def inputs(self, tx: Transaction, values: dict[str, Any]) -> list[tuple[Any, RawValue]]:
        """Service inputs from values by the names tests use (None: clear the field)."""
        directory = self.directory(tx)
        return [
            (tx.schema.field_by_code(directory, self.codes[name]), RawValue(_typed(raw)))
            for name, raw in values.items()
        ]

    def record(self, entry: Entry) -> Record:
        by_code = {code: name for name, code in self.codes.items()}
        values = {by_code[code]: str(v) for code, v in entry.values.items() if code in by_code}
        return Record(entry.id, values)

    # Writing

    def clear(self) -> None:
        """Delete every entry of the directory (found by listing it)."""

        def work(tx: Transaction) -> None:
            directory = self.directory(tx)
            page = listings.list_entries(
                tx, directory, listings.ListQuery(limit=ALL_ENTRIES), actor=ADMIN
            )
            for entry in page.entries:
                entries.delete_entry(tx, directory, EntryRef(id=entry.id), actor=ADMIN)

        run(self.database, work, write=True)

    def create(self, model: Model, items: list[dict[str, Any]]) -> None:
        def work(tx: Transaction) -> list[Entry]:
            directory = self.directory(tx)
            return [
                entries.create_entry(tx, directory, self.inputs(tx, v), actor=ADMIN) for v in items
            ]

        for item, entry in zip(items, run(self.database, work, write=True), strict=True):
            record = self.record(entry)
            assert record.values == _expected_values(item), "the model misreads what is stored"
            model.records[record.id] = record
            model.written += record.texts()

    def edit(self, model: Model, entry_id: int, changes: dict[str, Any]) -> None:
        def work(tx: Transaction) -> Entry:
            ref = EntryRef(id=entry_id)
            return entries.update_entry(
                tx, self.directory(tx), ref, self.inputs(tx, changes), actor=ADMIN
            )

        model.records[entry_id] = self.record(run(self.database, work, write=True))
        model.written += model.records[entry_id].texts()

    def delete(self, model: Model, entry_id: int) -> None:
        def work(tx: Transaction) -> None:
            entries.delete_entry(tx, self.directory(tx), EntryRef(id=entry_id), actor=ADMIN)

        run(self.database, work, write=True)
        del model.records[entry_id]

    def rolled_back(
        self, model: Model, new: dict[str, Any], edited: int | None, changes: dict[str, Any]
    ) -> None:
        """Create, edit and delete in one transaction that then fails: nothing of it stays."""

        def work(tx: Transaction) -> None:
            directory = self.directory(tx)
            entries.create_entry(tx, directory, self.inputs(tx, new), actor=ADMIN)
            if edited is not None:
                ref = EntryRef(id=edited)
                entries.update_entry(tx, directory, ref, self.inputs(tx, changes), actor=ADMIN)
                entries.delete_entry(tx, directory, ref, actor=ADMIN)
            raise Undone

        try:
            run(self.database, work, write=True)
        except Undone:
            pass
        else:  # pragma: no cover
            raise AssertionError("the transaction was not rolled back")
        model.written += [v for v in (stored(new.get(n)) for n in TEXT_FIELDS) if v]
        model.written += [v for v in (stored(changes.get(n)) for n in TEXT_FIELDS) if v]

    # Reading

    def filter(self, name: str, op: str, needle: str) -> Filter:
        """`filter=<name's code> <op> 'needle'`, as the REST API reads it."""
        quoted = needle.replace("'", "''")
        return parse_filter(f"{self.codes[name]} {op} '{quoted}'")

    def filtered(self, name: str, op: str, needle: str, **options: Any) -> list[int]:
        return self.listed(listings.ListQuery(filter=self.filter(name, op, needle), **options))

    def found(self, text: str, **options: Any) -> list[int]:
        return self.listed(listings.ListQuery(text=text, **options))

    def listed(self, query: listings.ListQuery) -> list[int]:
        """The ids of every entry `query` finds, in one page."""
        page = self.page(replace(query, limit=ALL_ENTRIES))
        assert page.next_cursor is None
        return [e.id for e in page.entries]

    def paged(self, query: listings.ListQuery) -> Iterator[list[int]]:
        """The ids of each page, following the cursor to the last one."""
        while True:
            page = self.page(query)
            yield [e.id for e in page.entries]
            if page.next_cursor is None:
                return
            query = replace(query, cursor=page.next_cursor)

    def page(self, query: listings.ListQuery, actor: Actor = ADMIN) -> listings.Page:
        return run(
            self.database,
            lambda tx: listings.list_entries(tx, self.directory(tx), query, actor=actor),
            write=False,
        )

    def searched(
        self, text: str, limit: int, actor: Actor = ADMIN
    ) -> dict[str, search.DirectoryResult]:
        """`GET /api/v1/search`: the result of each directory with a match, by code."""
        results = run(
            self.database,
            lambda tx: search.search_directories(tx, text, limit=limit, actor=actor),
            write=False,
        )
        return {r.directory.code: r for r in results}


class Undone(Exception):
    """Raised inside a transaction after it wrote, to roll it back."""


def _typed(raw: str | int | None) -> str:
    return "" if raw is None else str(raw)


def _expected_values(item: dict[str, Any]) -> dict[str, str]:
    return {name: v for name, raw in item.items() if (v := stored(raw)) is not None}


# Strategies


def texts(alphabet: str = ALPHABET, *, max_size: int = 12) -> st.SearchStrategy[str]:
    """Short text mostly, now and then longer than 200 characters."""
    short = st.text(alphabet, min_size=1, max_size=max_size)
    long = st.text(alphabet, min_size=201, max_size=260)
    return st.sampled_from([False, False, True]).flatmap(lambda is_long: long if is_long else short)


def names() -> st.SearchStrategy[str]:
    return texts().filter(lambda text: bool(text.strip()))


def emails() -> st.SearchStrategy[str]:
    part = st.text(NO_SPACE, min_size=1, max_size=8)
    return st.builds(lambda a, b: f"{a}@{b}", part, part | texts(NO_SPACE))


ENTRY = st.fixed_dictionaries(
    {"name": names()},
    optional={
        "note": texts(),
        "mail": emails(),
        "site": texts(NO_SPACE),
        NUMBER_FIELD: st.integers(0, 30),
    },
)
CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "name": names(),
        "note": texts() | st.none(),
        "mail": emails() | st.none(),
        "site": texts(NO_SPACE) | st.none(),
    },
)
"""An edit: some fields set anew, some cleared (None); the name is required."""

Op = tuple[Any, ...]
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("edit"), st.integers(0, 99), CHANGES),
        st.tuples(st.just("delete"), st.integers(0, 99)),
        st.tuples(st.just("rolled back"), ENTRY, st.integers(0, 99), CHANGES),
    ),
    max_size=4,
)


def apply(catalog: Catalog, model: Model, ops: Iterable[Op]) -> None:
    """Renames, deletes and rolled-back writes, each on an entry picked by position."""
    for op in ops:
        live = sorted(model.records)
        if op[0] == "rolled back":
            target = live[op[2] % len(live)] if live else None
            catalog.rolled_back(model, op[1], target, op[3])
        elif live and op[0] == "edit":
            catalog.edit(model, live[op[1] % len(live)], op[2])
        elif live:
            catalog.delete(model, live[op[1] % len(live)])


def disguised(text: str) -> st.SearchStrategy[str]:
    """`text` with some letters in the other case or as their look-alike (Latin for
    Cyrillic and back): what a search that folds them finds alike."""
    spellings = [st.sampled_from(_spellings(c)) for c in text]
    return st.tuples(*spellings).map("".join)


def _spellings(char: str) -> list[str]:
    other = LOOK_ALIKES.get(char)
    return list(dict.fromkeys([char, char.swapcase(), *([other] if other else [])]))


@st.composite
def needles(draw: st.DrawFn, pool: list[str], *, disguise: bool = True) -> str:
    """A piece of a value written (often 1 or 2 characters, perhaps past the first 135 of
    a long one), perhaps disguised, or any short text."""
    if not pool or draw(st.integers(0, 3)) == 0:
        return draw(st.text(ALPHABET, min_size=1, max_size=3))
    value = draw(st.sampled_from(pool))
    size = draw(st.sampled_from([1, 2, 3, 5, 12]))
    start = draw(st.integers(0, max(len(value) - 1, 0)))
    piece = value[start : start + size]
    return draw(disguised(piece)) if disguise and draw(st.booleans()) else piece


@st.composite
def prefixes(draw: st.DrawFn, pool: list[str]) -> str:
    """The start of a value written (at most `PREFIX_LIMIT` characters folded), perhaps in
    the other case, or any short text."""
    if not pool or draw(st.integers(0, 3)) == 0:
        return draw(st.text(ALPHABET, min_size=1, max_size=3))
    value = draw(st.sampled_from(pool))
    # Long ones too: of a long value, the index keeps only the first 135 folded characters.
    size = draw(st.sampled_from([1, 2, 3, 8]) | st.integers(PREFIX_LIMIT - 20, PREFIX_LIMIT))
    typed = "".join(draw(st.sampled_from([c, c.swapcase()])) for c in value[:size])
    # At most PREFIX_LIMIT characters once folded ("ß" folds to "ss"): longer is refused.
    while len(fold(typed)) > PREFIX_LIMIT:
        typed = typed[:-1]
    return typed


@st.composite
def search_texts(draw: st.DrawFn, names_: list[str], pool: list[str]) -> str:
    """What a person types in a search box: the start of a name, or one to three pieces of
    values written, perhaps disguised, between runs of spaces; never only spaces."""
    words: list[str]
    from_a_name: bool = draw(st.booleans())
    if names_ and from_a_name:
        name = draw(st.sampled_from(names_))
        words = [draw(disguised(name[: draw(st.integers(1, min(len(name), 20)))]))]
    else:
        words = draw(st.lists(needles(pool), min_size=1, max_size=3))
    gaps = draw(st.lists(st.sampled_from([" ", "  "]), min_size=len(words), max_size=len(words)))
    text = "".join(gap + word for gap, word in zip(gaps, words, strict=True))
    text = (text + draw(st.sampled_from(["", " "])))[:200].strip()
    return text if text else draw(st.text(LATIN, min_size=1, max_size=2))
