"""Users, groups, memberships, grants and the API key."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from accord.domain.rights import Action, GlobalRight, Rights
from accord.domain.text import fold, name_form
from accord.domain.users import Group, User
from accord.store import tables as t

_U = t.users.c
_G = t.grants.c
_M = t.group_members.c


@dataclass(frozen=True, slots=True)
class GrantRow:
    """One grant: a right, on a directory or global, held by a user or by a group."""

    id: int
    right: str
    directory_id: int | None
    user: str | None
    """The holder's login, when a user holds it."""
    group: str | None
    """The holder's name, when a group holds it."""


def _user(row: Any) -> User:
    return User(
        row.id, row.login, row.display_name, row.email, row.is_admin, row.is_active, row.jira_key
    )


def find_user(connection: sa.Connection, login: str) -> User | None:
    """The user whose login is `login` (case-insensitive), else whose Jira key it is."""
    row = connection.execute(sa.select(t.users).where(_U.login_key == fold(login))).first()
    if row is None:
        row = connection.execute(sa.select(t.users).where(_U.jira_key == login)).first()
    return None if row is None else _user(row)


def user_by_id(connection: sa.Connection, user_id: int) -> User | None:
    row = connection.execute(sa.select(t.users).where(_U.id == user_id)).first()
    return None if row is None else _user(row)


def all_users(connection: sa.Connection) -> list[User]:
    return [_user(row) for row in connection.execute(sa.select(t.users).order_by(_U.login_key))]


def insert_user(
    connection: sa.Connection,
    *,
    login: str,
    email: str,
    is_admin: bool,
    at: datetime,
    display_name: str | None = None,
    jira_key: str | None = None,
    is_active: bool = True,
) -> User:
    row = connection.execute(
        sa.insert(t.users)
        .values(
            login=login,
            login_key=fold(login),
            email=email,
            is_admin=is_admin,
            display_name=display_name or login,
            jira_key=jira_key,
            is_active=is_active,
            created_at=at,
        )
        .returning(t.users)
    ).one()
    return _user(row)


def insert_users(
    connection: sa.Connection, rows: Sequence[Mapping[str, object]], *, at: datetime
) -> list[User]:
    """Insert users (login, email, display_name, jira_key, is_active) in one statement."""
    if not rows:
        return []
    values = [
        {
            **row,
            "login_key": fold(str(row["login"])),
            "display_name": row.get("display_name") or row["login"],
            "is_admin": False,
            "created_at": at,
        }
        for row in rows
    ]
    connection.execute(sa.insert(t.users), values)
    keys = [str(row["login_key"]) for row in values]
    found: list[User] = []
    for start in range(0, len(keys), 500):
        query = sa.select(t.users).where(_U.login_key.in_(keys[start : start + 500]))
        found.extend(_user(row) for row in connection.execute(query))
    return found


def update_user(connection: sa.Connection, user_id: int, **changes: object) -> None:
    """Change some of a user's columns (login, display_name, email, jira_key, is_active)."""
    if "login" in changes:
        changes["login_key"] = fold(str(changes["login"]))
    connection.execute(sa.update(t.users).where(_U.id == user_id).values(**changes))


def set_user_active(connection: sa.Connection, user_id: int, active: bool) -> None:
    connection.execute(sa.update(t.users).where(_U.id == user_id).values(is_active=active))


def find_group(connection: sa.Connection, name: str) -> Group | None:
    row = connection.execute(
        sa.select(t.groups.c.id, t.groups.c.name).where(t.groups.c.name_key == name_form(name))
    ).first()
    return None if row is None else Group(row.id, row.name)


def all_groups(connection: sa.Connection) -> list[Group]:
    rows = connection.execute(sa.select(t.groups.c.id, t.groups.c.name).order_by(t.groups.c.name))
    return [Group(row.id, row.name) for row in rows]


def insert_group(connection: sa.Connection, name: str) -> Group:
    group_id = connection.execute(
        sa.insert(t.groups).values(name=name, name_key=name_form(name)).returning(t.groups.c.id)
    ).scalar_one()
    return Group(group_id, name)


def _insert_new(connection: sa.Connection, table: sa.Table, **values: object) -> bool:
    """Insert a row unless one with the same unique key is there; False if one is.

    One statement, not a look and then an insert: a row another transaction inserts in
    between (and commits) is "there" too, where the insert would fail on its unique key.
    """
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(**values).on_conflict_do_nothing()
    return connection.execute(statement.returning(sa.literal(1))).first() is not None


def add_member(connection: sa.Connection, group_id: int, user_id: int) -> bool:
    """Add a user to a group; False if already a member."""
    return _insert_new(connection, t.group_members, group_id=group_id, user_id=user_id)


def remove_member(connection: sa.Connection, group_id: int, user_id: int) -> bool:
    """Take a user out of a group; False if not a member."""
    removed = connection.execute(
        sa.delete(t.group_members).where(_M.group_id == group_id, _M.user_id == user_id)
    )
    return removed.rowcount > 0


def groups_of(connection: sa.Connection, user_id: int) -> list[str]:
    """The names of the groups a user belongs to."""
    query = (
        sa.select(t.groups.c.name)
        .join(t.group_members, _M.group_id == t.groups.c.id)
        .where(_M.user_id == user_id)
        .order_by(t.groups.c.name)
    )
    return list(connection.execute(query).scalars())


def members_by_group(connection: sa.Connection) -> dict[int, list[str]]:
    """Every group's members' logins, by group id, in one query."""
    query = sa.select(_M.group_id, _U.login).join(t.users, _U.id == _M.user_id)
    found: defaultdict[int, list[str]] = defaultdict(list)
    for group_id, login in connection.execute(query.order_by(_M.group_id, _U.login_key)):
        found[group_id].append(login)
    return dict(found)


def members(connection: sa.Connection, group_id: int) -> list[str]:
    query = (
        sa.select(_U.login)
        .join(t.group_members, t.group_members.c.user_id == _U.id)
        .where(t.group_members.c.group_id == group_id)
        .order_by(_U.login_key)
    )
    return list(connection.execute(query).scalars())


def load_rights(connection: sa.Connection, user: User) -> Rights:
    """The user's rights: grants to the user and to each group the user belongs to."""
    if user.is_admin:
        return Rights(is_admin=True)
    group_ids = sa.select(t.group_members.c.group_id).where(t.group_members.c.user_id == user.id)
    rows = connection.execute(
        sa.select(_G.right, _G.directory_id).where(
            sa.or_(_G.user_id == user.id, _G.group_id.in_(group_ids))
        )
    )
    global_rights: set[GlobalRight] = set()
    directory_rights: set[tuple[int, Action]] = set()
    for right, directory_id in rows:
        if directory_id is None:
            global_rights.add(GlobalRight(right))
        else:
            directory_rights.add((directory_id, Action(right)))
    return Rights(False, frozenset(global_rights), frozenset(directory_rights))


def _holder(user_id: int | None, group_id: int | None) -> sa.ColumnElement[bool]:
    if user_id is not None:
        return _G.user_id == user_id
    return _G.group_id == group_id


def _right_matches(right: str, directory_id: int | None) -> Sequence[sa.ColumnElement[bool]]:
    directory = (
        _G.directory_id.is_(None) if directory_id is None else (_G.directory_id == directory_id)
    )
    return (_G.right == right, directory)


def insert_grant(
    connection: sa.Connection,
    right: str,
    directory_id: int | None,
    *,
    user_id: int | None = None,
    group_id: int | None = None,
) -> bool:
    """Grant a right; False if the holder has it already (the grants' unique indexes
    tell, see `tables.grants`)."""
    return _insert_new(
        connection,
        t.grants,
        right=right,
        directory_id=directory_id,
        user_id=user_id,
        group_id=group_id,
    )


def delete_grant(
    connection: sa.Connection,
    right: str,
    directory_id: int | None,
    *,
    user_id: int | None = None,
    group_id: int | None = None,
) -> bool:
    """Revoke a right; False if the holder did not have it."""
    condition = sa.and_(_holder(user_id, group_id), *_right_matches(right, directory_id))
    return connection.execute(sa.delete(t.grants).where(condition)).rowcount > 0


def grants(
    connection: sa.Connection,
    *,
    user_id: int | None = None,
    group_id: int | None = None,
    grant_id: int | None = None,
) -> list[GrantRow]:
    """Grants with their holders' names, oldest first; only those matching what is given."""
    query = (
        sa.select(_G.id, _G.right, _G.directory_id, _U.login, t.groups.c.name)
        .outerjoin(t.users, _U.id == _G.user_id)
        .outerjoin(t.groups, t.groups.c.id == _G.group_id)
        .order_by(_G.id)
    )
    for column, wanted in ((_G.user_id, user_id), (_G.group_id, group_id), (_G.id, grant_id)):
        if wanted is not None:
            query = query.where(column == wanted)
    return [GrantRow(*row) for row in connection.execute(query)]


def delete_grant_by_id(connection: sa.Connection, grant_id: int) -> bool:
    """Revoke one grant; False if there is none with this id."""
    return connection.execute(sa.delete(t.grants).where(_G.id == grant_id)).rowcount > 0
