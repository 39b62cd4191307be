"""Users and groups, as the rest of Accord sees them."""

from dataclasses import dataclass

from accord.domain.rights import Rights


@dataclass(frozen=True, slots=True)
class User:
    id: int
    login: str
    display_name: str = ""
    email: str = ""
    is_admin: bool = False
    is_active: bool = True
    jira_key: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, with what rights, through which edge (recorded in history)."""

    user: User | None
    """None for Accord itself acting (the CLI, a migration, a job of no one's)."""
    rights: Rights
    edge: str

    @classmethod
    def system(cls, edge: str) -> "Actor":
        return cls(None, Rights(is_admin=True), edge)

    @property
    def user_id(self) -> int | None:
        return None if self.user is None else self.user.id
