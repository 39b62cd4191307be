"""Users, groups and grants: administered by administrators (and the CLI)."""

from accord.domain.errors import AccordError, Conflict
from accord.domain.names import checked_name
from accord.domain.rights import parse_grant
from accord.domain.users import Actor, Group, User
from accord.services.transactions import now
from accord.store import users as store
from accord.store.database import Transaction


def add_user(
    tx: Transaction, login: str, *, email: str = "", is_admin: bool = False, actor: Actor
) -> User:
    """A new active user; logins are unique, case-insensitively."""
    actor.rights.require_admin()
    login = checked_name(login, "login")
    if store.find_user(tx.connection, login) is not None:
        raise Conflict(f"User '{login}' already exists")
    user = store.insert_user(
        tx.connection, login=login, email=email.strip(), is_admin=is_admin, at=now()
    )
    tx.changed("auth")
    return user


def list_users(tx: Transaction, *, actor: Actor) -> list[User]:
    actor.rights.require_admin()
    return store.all_users(tx.connection)


def set_user_active(tx: Transaction, login: str, active: bool, *, actor: Actor) -> User:
    """Disable (or enable again) a user: a disabled user can no longer call the API."""
    actor.rights.require_admin()
    user = get_user(tx, login)
    store.set_user_active(tx.connection, user.id, active)
    tx.changed("auth")
    return user


def get_user(tx: Transaction, login: str) -> User:
    user = store.find_user(tx.connection, login)
    if user is None:
        raise AccordError(f"User not found: {login}")
    return user


def add_group(tx: Transaction, name: str, *, actor: Actor) -> Group:
    actor.rights.require_admin()
    name = checked_name(name, "group name")
    if store.find_group(tx.connection, name) is not None:
        raise Conflict(f"Group '{name}' already exists")
    return store.insert_group(tx.connection, name)


def get_group(tx: Transaction, name: str) -> Group:
    group = store.find_group(tx.connection, name)
    if group is None:
        raise AccordError(f"Group not found: {name}")
    return group


def list_groups(tx: Transaction, *, actor: Actor) -> list[Group]:
    actor.rights.require_admin()
    return store.all_groups(tx.connection)


def add_members(tx: Transaction, group_name: str, logins: list[str], *, actor: Actor) -> None:
    actor.rights.require_admin()
    group = get_group(tx, group_name)
    for login in logins:
        store.add_member(tx.connection, group.id, get_user(tx, login).id)
    tx.changed("auth")


def group_members(tx: Transaction, group_name: str, *, actor: Actor) -> list[str]:
    actor.rights.require_admin()
    return store.members(tx.connection, get_group(tx, group_name).id)


def grant(
    tx: Transaction,
    right: str,
    *,
    user: str | None = None,
    group: str | None = None,
    actor: Actor,
) -> int:
    """Grant a right (see `parse_grant`) to a user or a group; return how many were new."""
    actor.rights.require_admin()
    holder = _holder(tx, user, group)
    added = sum(
        store.insert_grant(tx.connection, name, d.id if d else None, **holder)
        for name, d in parse_grant(right, tx.schema)
    )
    tx.changed("auth")
    return added


def revoke(
    tx: Transaction,
    right: str,
    *,
    user: str | None = None,
    group: str | None = None,
    actor: Actor,
) -> int:
    """Take a right back; return how many grants were removed."""
    actor.rights.require_admin()
    holder = _holder(tx, user, group)
    removed = sum(
        store.delete_grant(tx.connection, name, d.id if d else None, **holder)
        for name, d in parse_grant(right, tx.schema)
    )
    tx.changed("auth")
    return removed


def _holder(tx: Transaction, user: str | None, group: str | None) -> dict[str, int | None]:
    if (user is None) == (group is None):
        raise AccordError("Name either a user or a group")
    if user is not None:
        return {"user_id": get_user(tx, user).id, "group_id": None}
    assert group is not None
    return {"user_id": None, "group_id": get_group(tx, group).id}
