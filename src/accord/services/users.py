"""Users, groups and grants: administered by administrators (and the CLI)."""

from sqlalchemy.exc import IntegrityError

from accord.domain.errors import AccordError, Conflict, Family, InvalidQuery
from accord.domain.names import MAX_NAME_LENGTH, InvalidName, checked_name
from accord.domain.rights import UnknownRight, parse_grant
from accord.domain.text import fold, has_invalid_characters, printable
from accord.domain.users import Actor, Group, User
from accord.services.transactions import CacheKind, now
from accord.store import users as store
from accord.store.database import Transaction
from accord.store.users import GrantRow as GrantRow  # the edges render it


class UserNotFoundByLogin(AccordError):
    """No user has this login (nor this Jira key)."""

    code = "user_not_found"
    family = Family.NOT_FOUND

    def __init__(self, login: str) -> None:
        super().__init__(f"User not found: {printable(login)}")


class GroupNotFound(AccordError):
    code = "group_not_found"
    family = Family.NOT_FOUND

    def __init__(self, name: str) -> None:
        super().__init__(f"Group not found: {printable(name)}")


class MemberNotFound(AccordError):
    code = "member_not_found"
    family = Family.NOT_FOUND

    def __init__(self, login: str, group: str) -> None:
        super().__init__(f"User {printable(login)} is not a member of group {group}")


class GrantNotFound(AccordError):
    code = "grant_not_found"
    family = Family.NOT_FOUND

    def __init__(self, grant_id: int) -> None:
        super().__init__(f"Grant not found: {grant_id}")


class InvalidEmail(AccordError):
    code = "invalid_email"

    def __init__(self) -> None:
        super().__init__(
            f"An e-mail address is name@domain, at most {MAX_NAME_LENGTH} printable characters"
        )


class OneHolderRequired(AccordError):
    """A grant names both a user and a group, or neither: it is held by exactly one."""

    code = "one_holder_required"

    def __init__(self) -> None:
        super().__init__("Name either a user or a group")


class OwnAccount(AccordError):
    """An administrator tried to lock themselves out (disable or demote their own user)."""

    code = "own_account"

    def __init__(self) -> None:
        super().__init__(
            "Administrators cannot disable their own user or take away their own administration"
        )


def add_user(
    tx: Transaction,
    login: str,
    *,
    email: str = "",
    is_admin: bool = False,
    display_name: str = "",
    actor: Actor,
) -> User:
    """A new active user; logins are unique, case-insensitively."""
    actor.rights.require_admin()
    login = _checked_key_name(login, "login", field="login")
    if store.find_user(tx.connection, login) is not None:
        raise Conflict(f"User '{login}' already exists")
    email = _checked_email(email)
    shown = (
        checked_name(display_name, "display name", field="display_name")
        if display_name.strip()
        else None
    )
    try:
        user = store.insert_user(
            tx.connection, login=login, email=email, is_admin=is_admin, at=now(), display_name=shown
        )
    except IntegrityError as error:  # another transaction added it since the check
        raise Conflict(f"User '{login}' already exists") from error
    tx.changed(CacheKind.AUTH)
    return user


def list_users(tx: Transaction, *, actor: Actor) -> list[User]:
    actor.rights.require_admin()
    return store.all_users(tx.connection)


def read_user(tx: Transaction, login: str, *, actor: Actor) -> User:
    """A user, for an administrator; UserNotFoundByLogin if none has this login."""
    actor.rights.require_admin()
    return get_user(tx, login)


def user_groups(tx: Transaction, login: str, *, actor: Actor) -> list[str]:
    """The names of the groups a user belongs to (administrators only)."""
    actor.rights.require_admin()
    return store.groups_of(tx.connection, get_user(tx, login).id)


def set_user_active(tx: Transaction, login: str, active: bool, *, actor: Actor) -> User:
    """Disable (or enable again) a user: a disabled user can no longer call the API."""
    actor.rights.require_admin()
    user = get_user(tx, login)
    store.set_user_active(tx.connection, user.id, active)
    tx.changed(CacheKind.AUTH)
    return user


def update_user(
    tx: Transaction,
    login: str,
    *,
    email: str | None = None,
    display_name: str | None = None,
    is_active: bool | None = None,
    is_admin: bool | None = None,
    actor: Actor,
) -> User:
    """Change what is given (None: unchanged); an administrator cannot lock themselves out.

    A disabled user can no longer call either API, at once, in every process.
    """
    actor.rights.require_admin()
    user = get_user(tx, login)
    if user.id == actor.user_id and (is_active is False or is_admin is False):
        raise OwnAccount
    changes: dict[str, object] = {}
    if email is not None:
        changes["email"] = _checked_email(email)
    if display_name is not None:
        changes["display_name"] = checked_name(display_name, "display name", field="display_name")
    if is_active is not None:
        changes["is_active"] = is_active
    if is_admin is not None:
        changes["is_admin"] = is_admin
    if changes:
        store.update_user(tx.connection, user.id, **changes)
        tx.changed(CacheKind.AUTH)
    updated = store.user_by_id(tx.connection, user.id)
    assert updated is not None
    return updated


def get_user(tx: Transaction, login: str) -> User:
    # No login holds control characters or undecodable bytes (PostgreSQL refuses NULs).
    user = None if has_invalid_characters(login) else store.find_user(tx.connection, login)
    if user is None:
        raise UserNotFoundByLogin(login)
    return user


def _checked_key_name(name: str, what: str, *, field: str = "name") -> str:
    """A name that is also stored case-folded, in a column no longer than the name's,
    and names its user or group in the REST API's paths (so it holds no "/", which a
    path segment cannot carry: such a user could be made and never read)."""
    text = checked_name(name, what, field=field)
    if len(fold(text)) > MAX_NAME_LENGTH:  # "ß" folds to "ss"
        raise InvalidName(what).about(field)
    if "/" in text:
        raise InvalidName(what, f"A {what} holds no '/'").about(field)
    return text


def _checked_email(email: str) -> str:
    """Empty, or one "@" between two parts without white space (what a mail client needs
    to write to it; whether it is delivered is not Accord's to know)."""
    text = email.strip()
    local, at, domain = text.partition("@")
    shaped = bool(local and at and domain) and "@" not in domain
    spaced = any(c.isspace() for c in text)
    if text and (not shaped or spaced or len(text) > MAX_NAME_LENGTH):
        raise InvalidEmail().about("email")
    if has_invalid_characters(text):
        raise InvalidEmail().about("email")
    return text


def add_group(tx: Transaction, name: str, *, actor: Actor) -> Group:
    actor.rights.require_admin()
    name = _checked_key_name(name, "group name")
    if store.find_group(tx.connection, name) is not None:
        raise Conflict(f"Group '{name}' already exists")
    try:
        return store.insert_group(tx.connection, name)
    except IntegrityError as error:  # another transaction added it since the check
        raise Conflict(f"Group '{name}' already exists") from error


def get_group(tx: Transaction, name: str) -> Group:
    group = None if has_invalid_characters(name) else store.find_group(tx.connection, name)
    if group is None:
        raise GroupNotFound(name)
    return group


def read_group(tx: Transaction, name: str, *, actor: Actor) -> Group:
    """A group, for an administrator; GroupNotFound if none has this name."""
    actor.rights.require_admin()
    return get_group(tx, name)


def list_groups(tx: Transaction, *, actor: Actor) -> list[Group]:
    actor.rights.require_admin()
    return store.all_groups(tx.connection)


def all_group_members(tx: Transaction, *, actor: Actor) -> dict[int, list[str]]:
    """The logins of every group's members, by group id (administrators only)."""
    actor.rights.require_admin()
    return store.members_by_group(tx.connection)


def add_members(tx: Transaction, group_name: str, logins: list[str], *, actor: Actor) -> None:
    actor.rights.require_admin()
    group = get_group(tx, group_name)
    for login in logins:
        store.add_member(tx.connection, group.id, get_user(tx, login).id)
    tx.changed(CacheKind.AUTH)


def remove_member(tx: Transaction, group_name: str, login: str, *, actor: Actor) -> None:
    """Take a user out of a group: the group's rights stop applying to the user at once."""
    actor.rights.require_admin()
    group = get_group(tx, group_name)
    user = get_user(tx, login)
    if not store.remove_member(tx.connection, group.id, user.id):
        raise MemberNotFound(user.login, group.name)
    tx.changed(CacheKind.AUTH)


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
    if added:
        tx.changed(CacheKind.AUTH)
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
    if removed:
        tx.changed(CacheKind.AUTH)
    return removed


def list_grants(
    tx: Transaction,
    *,
    right: str | None = None,
    user: str | None = None,
    group: str | None = None,
    actor: Actor,
) -> list[GrantRow]:
    """Grants, oldest first: all, or those `right` names (as in `parse_grant`), or those
    held by one user (directly, not through groups) or one group."""
    actor.rights.require_admin()
    if user is not None and group is not None:
        raise InvalidQuery("Name a user or a group, not both")
    holder = {
        "user_id": get_user(tx, user).id if user is not None else None,
        "group_id": get_group(tx, group).id if group is not None else None,
    }
    rows = store.grants(tx.connection, **holder)
    if right is None:
        return rows
    try:
        named = {(name, d.id if d else None) for name, d in parse_grant(right, tx.schema)}
    except UnknownRight as error:  # a filter of a listing: a bad query, as a bad filter is
        raise InvalidQuery(error.message).about("right") from error
    return [row for row in rows if (row.right, row.directory_id) in named]


def get_grant(tx: Transaction, grant_id: int, *, actor: Actor) -> GrantRow:
    actor.rights.require_admin()
    found = store.grants(tx.connection, grant_id=grant_id)
    if not found:
        raise GrantNotFound(grant_id)
    return found[0]


def revoke_grant(tx: Transaction, grant_id: int, *, actor: Actor) -> None:
    """Take back one grant, by its id; it stops applying at once."""
    actor.rights.require_admin()
    if not store.delete_grant_by_id(tx.connection, grant_id):
        raise GrantNotFound(grant_id)
    tx.changed(CacheKind.AUTH)


def _holder(tx: Transaction, user: str | None, group: str | None) -> dict[str, int | None]:
    if (user is None) == (group is None):
        raise OneHolderRequired
    if user is not None:
        return {"user_id": get_user(tx, user).id, "group_id": None}
    assert group is not None
    return {"user_id": None, "group_id": get_group(tx, group).id}
