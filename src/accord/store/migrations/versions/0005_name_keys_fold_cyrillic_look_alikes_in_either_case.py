"""Name keys fold Cyrillic look-alikes in either case

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

`domain.text.name_form`, the form in which display names are compared, folded Cyrillic
letters that look like Latin ones before it folded case, and its table held only some
lower-case letters: "Контакт" became "koнтaкт" and "контакт" stayed "кoнтaкт", so a name
did not match itself written in another case. It now folds case first, then every
look-alike. `dictionaries.name_key` and `groups.name_key` store that form; this computes
them again.

Two names that the new form makes alike were distinct before, and both rows stay: the
one with the higher id keeps its old key (a warning names it), so nothing is lost or
renamed. Renaming it makes it found by name again.

The two forms are written out here, not imported, so that this step stays what it was
whatever the domain's rule becomes.
"""

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_log = logging.getLogger(__name__)
_WHITESPACE = re.compile(r"\s+")
_OLD = str.maketrans("АВЕКМНОРСТУХаеорсухіјѕԁӏІЈЅ", "ABEKMHOPCTYXaeopcyxijsdlIJS")
_NEW = str.maketrans("авекмнорстухіјѕԁӏ", "abekmhopctyxijsdl")
TABLES = ("dictionaries", "groups")


def old_form(name: str) -> str:
    return _WHITESPACE.sub(" ", name.translate(_OLD)).strip().casefold()


def new_form(name: str) -> str:
    return _WHITESPACE.sub(" ", name.casefold().translate(_NEW)).strip()


def upgrade() -> None:
    for table in TABLES:
        _rekey(table, new_form)


def downgrade() -> None:
    for table in TABLES:
        _rekey(table, old_form)


def _rekey(name: str, form: Callable[[str], str]) -> None:
    connection = op.get_bind()
    table = sa.table(name, sa.column("id"), sa.column("name"), sa.column("name_key"))
    query = sa.select(table.c.id, table.c.name, table.c.name_key)
    alike: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for row_id, row_name, row_key in connection.execute(query):
        alike[form(row_name)].append((row_id, row_name, row_key))
    for key, named in alike.items():
        # The row that holds the key already keeps it; else the oldest takes it. A key
        # another row keeps holds a letter the new form folds, so it never collides.
        holder = min(named, key=lambda row: (row[2] != key, row[0]))
        for row_id, row_name, _ in named:
            if row_id != holder[0]:
                _log.warning(
                    "%s %d (%r) keeps its name key: another has it", name, row_id, row_name
                )
        if holder[2] != key:
            connection.execute(table.update().where(table.c.id == holder[0]).values(name_key=key))
