"""Rights: global ones and per-directory ones, and the names users see when denied."""

from dataclasses import dataclass
from enum import StrEnum

from accord.domain.errors import AccordError, PermissionDenied
from accord.domain.schema import COMPANIES, CONTACTS, TRANSACTIONS, Directory, Schema
from accord.domain.text import printable


class GlobalRight(StrEnum):
    MAIN_MENU = "main-menu"
    DICTIONARY_ADD = "dictionaries.add"
    DICTIONARY_REMOVE = "dictionaries.remove"

    @property
    def display_name(self) -> str:
        return _GLOBAL_TITLES[self]


_GLOBAL_TITLES = {
    GlobalRight.MAIN_MENU: "CRM Main Menu",
    GlobalRight.DICTIONARY_ADD: "Add the values to dictionaries",
    GlobalRight.DICTIONARY_REMOVE: "Remove the values from dictionaries",
}


class Action(StrEnum):
    VIEW = "view"
    ADD = "add"
    EDIT = "edit"
    REMOVE = "remove"


# The vendor's own wording, where it has one (legacy-api.md §2).
_VENDOR_TITLES = {
    (COMPANIES, Action.ADD): "Add companies",
    (COMPANIES, Action.EDIT): "Edit companies",
    (CONTACTS, Action.ADD): "Add contacts",
    (CONTACTS, Action.EDIT): "Edit contacts",
    (TRANSACTIONS, Action.VIEW): "Search CRM transactions",
}


class UnknownRight(AccordError):
    """A grant names no right Accord has (see `parse_grant`)."""

    code = "unknown_right"

    def __init__(self, text: str) -> None:
        super().__init__(f"Unknown right: {printable(text)}")


def directory_right_title(action: Action, directory: Directory) -> str:
    """The name of a per-directory right, as shown in `Permission denied: <name>`."""
    vendor = _VENDOR_TITLES.get((directory.code, action))
    return vendor or f"{action.value.capitalize()} {directory.name}"


@dataclass(frozen=True, slots=True)
class Rights:
    """What one user may do: administrators may do everything."""

    is_admin: bool = False
    global_rights: frozenset[GlobalRight] = frozenset()
    directory_rights: frozenset[tuple[int, Action]] = frozenset()

    def has(self, right: GlobalRight) -> bool:
        return self.is_admin or right in self.global_rights

    def can(self, action: Action, directory: Directory) -> bool:
        return self.is_admin or (directory.id, action) in self.directory_rights

    def require(self, right: GlobalRight) -> None:
        if not self.has(right):
            raise PermissionDenied(right.display_name)

    def require_admin(self) -> None:
        if not self.is_admin:
            raise PermissionDenied("Administrator")

    def limited(
        self,
        *,
        read_only: bool,
        directory_ids: frozenset[int] | None,
        all_directories: frozenset[int],
    ) -> "Rights":
        """These rights as far as a token allows: never more than they are.

        A read-only token keeps the right to view; a token limited to some directories
        keeps their rights only, and of the global rights only the main menu: dictionaries
        are shared by every directory, so adding or removing a value would reach entries
        and fields outside the token's directories. Either way administration is left out.
        """
        if not read_only and directory_ids is None:
            return self
        held = self.directory_rights
        if self.is_admin:
            held = frozenset((d, a) for d in all_directories for a in Action)
        if directory_ids is not None:
            held = frozenset((d, a) for d, a in held if d in directory_ids)
        globals_ = set(GlobalRight) if self.is_admin else set(self.global_rights)
        if directory_ids is not None:
            globals_ &= {GlobalRight.MAIN_MENU}
        if read_only:
            held = frozenset((d, a) for d, a in held if a is Action.VIEW)
            globals_ &= {GlobalRight.MAIN_MENU}
        return Rights(False, frozenset(globals_), held)

    def require_on(self, action: Action, directory: Directory) -> None:
        if not self.can(action, directory):
            raise PermissionDenied(directory_right_title(action, directory))


def parse_grant(text: str, schema: Schema) -> list[tuple[str, Directory | None]]:
    """The rights a grant names: `main-menu`, `dictionaries.add`, `dictionaries.remove`,
    `<directory>.<view|add|edit|remove>`, or `<directory>.all` for all four."""
    wanted = text.strip().lower()
    if wanted in {r.value for r in GlobalRight}:
        return [(wanted, None)]
    directory_name, _, action = wanted.rpartition(".")
    if not directory_name:
        raise UnknownRight(text).about("right")
    directory = schema.find_directory(directory_name)
    if action == "all":
        return [(a.value, directory) for a in Action]
    if action not in {a.value for a in Action}:
        raise UnknownRight(text).about("right")
    return [(action, directory)]
