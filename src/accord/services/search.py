"""Search across directories: the first entries of each that hold a piece of text, for a
search box and link pickers that ask on every keystroke."""

from dataclasses import dataclass

from accord.domain.errors import InvalidQuery
from accord.domain.query import name_starts_with, search_text
from accord.domain.rights import Action
from accord.domain.schema import Directory
from accord.domain.users import Actor
from accord.domain.values import render_flat
from accord.services.listings import ranked_page
from accord.store.database import Transaction

MAX_TEXT = 200
"""The longest text searched for (trimmed): a search box's, not a document's."""
MAX_LIMIT = 20
DEFAULT_LIMIT = 5
MAX_DIRECTORIES = 20
"""The most directories one search reads (two ranks each, a few statements a rank), so a
request never fans out without bound: with more visible, the first ones as listed;
others by name."""


@dataclass(frozen=True, slots=True)
class Found:
    """An entry found: its id and name."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class DirectoryResult:
    directory: Directory
    entries: list[Found]
    more: bool
    """Whether more entries than those match."""


def search_directories(
    tx: Transaction,
    text: str,
    *,
    limit: int = DEFAULT_LIMIT,
    names: list[str] | None = None,
    actor: Actor,
) -> list[DirectoryResult]:
    """The first `limit` entries holding `text`, in the order `q` finds them in a list,
    of each directory the actor may view (only those `names` names, if given), in the
    order directories are listed; directories without a match are left out.

    A name that is unknown, or of a directory the actor may not view, names nothing (no
    error), so a search never tells which directories exist. Two ranks per directory at
    most (each a page of `listing`), at most `MAX_DIRECTORIES` directories.
    """
    trimmed = _checked_text(text)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit is 1 to {MAX_LIMIT}").about("limit")
    results = []
    for directory in _searched(tx, names, actor):
        result = _search_one(tx, directory, trimmed, limit)
        if result.entries:
            results.append(result)
    return results


def _checked_text(text: str) -> str:
    trimmed = text.strip()
    if not 1 <= len(trimmed) <= MAX_TEXT:
        raise InvalidQuery(f"'q' holds 1 to {MAX_TEXT} characters (not only spaces)").about("q")
    return trimmed


def _searched(tx: Transaction, names: list[str] | None, actor: Actor) -> list[Directory]:
    """The directories to search, in the order they are listed."""
    visible = [d for d in tx.schema.directories if actor.rights.can(Action.VIEW, d)]
    if names is None:
        return visible[:MAX_DIRECTORIES]
    wanted = {name.strip() for name in names if name.strip()}
    if not wanted:
        raise InvalidQuery("'directories' names no directory").about("directories")
    if len(wanted) > MAX_DIRECTORIES:
        raise InvalidQuery(f"'directories' names at most {MAX_DIRECTORIES}").about("directories")
    named = {tx.schema.directory_named(name) for name in wanted}
    return [d for d in visible if d in named]


def _search_one(tx: Transaction, directory: Directory, text: str, limit: int) -> DirectoryResult:
    condition = search_text(directory, tx.schema, text)
    starts = name_starts_with(directory, tx.schema, text)
    rows = ranked_page(tx, directory, condition, starts, None, limit + 1)
    name_field = tx.schema.name_field(directory)
    found = [Found(entry.id, render_flat(name_field, entry, tx.schema)) for entry, _ in rows]
    return DirectoryResult(directory, found[:limit], len(found) > limit)
