"""Data Center (REST v2) and Cloud (REST v3): how each lists users, pages and names them.

Every difference between the two is decided here, once; the services see `JiraGateway`.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import Any
from urllib.parse import quote

from accord.domain.errors import JiraUnavailable
from accord.jira.client import JiraClient, JiraNotFound
from accord.services.jira import JiraServer, JiraUser, Progress

PAGE = 1000
"""Users asked for per page (Data Center's search and Cloud's users/search allow 1,000)."""
GROUP_PAGE = 50
SEARCH_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789._-@'"
"""What a prefix that hit the search cap is extended with (and what the results showed)."""
MAX_PREFIX = 64
EVERYONE = "."
"""What Data Center's `user/search` reads as "every user"."""


class _Jira(ABC):
    """What both deployments share: the connection, the server's identity read from
    `serverInfo` and `myself`, users gathered once each, issue fields set."""

    api: str

    def __init__(self, client: JiraClient, *, groups: Iterable[str] = ()) -> None:
        self.client = client
        self.groups = tuple(groups)

    def server(self) -> JiraServer:
        info = _object(self.client.get(f"{self.api}/serverInfo"), "serverInfo")
        me = _object(self.client.get(f"{self.api}/myself"), "myself")
        return self._server(info, me)

    def users(self, progress: Progress | None = None) -> list[JiraUser]:
        found: dict[str, JiraUser] = {}
        for user in self._listing():
            found.setdefault(user.key, user)
            if progress is not None and len(found) % 500 == 0:
                progress(len(found))
        if progress is not None:
            progress(len(found))
        return list(found.values())

    def set_issue_property(self, issue_key: str, field_key: str, value: str) -> None:
        path = f"{self.api}/issue/{quote(issue_key, safe='')}"
        self.client.request("PUT", path, json={"fields": {field_key: value}})

    def put_remote_link(self, issue_key: str, global_id: str, title: str, url: str) -> None:
        # POST with a globalId already on the issue updates that link (both deployments).
        body = {"globalId": global_id, "object": {"url": url, "title": title}}
        self.client.request("POST", self._remote_links(issue_key), json=body)

    def delete_remote_link(self, issue_key: str, global_id: str) -> None:
        # No such link, or no such issue (404): nothing is left to remove.
        with suppress(JiraNotFound):
            path = self._remote_links(issue_key)
            self.client.request("DELETE", path, params={"globalId": global_id})

    def _remote_links(self, issue_key: str) -> str:
        return f"{self.api}/issue/{quote(issue_key, safe='')}/remotelink"

    @abstractmethod
    def _server(self, info: dict[str, Any], me: dict[str, Any]) -> JiraServer: ...

    @abstractmethod
    def _listing(self) -> Iterator[JiraUser]: ...


class DataCenter(_Jira):
    """Jira Server / Data Center, REST v2."""

    api = "/rest/api/2"

    def _server(self, info: dict[str, Any], me: dict[str, Any]) -> JiraServer:
        deployment = str(info.get("deploymentType") or "Server")
        if deployment.lower() == "cloud":
            raise JiraUnavailable(
                "This Jira is a Cloud site: connect it with --email and --api-token"
            )
        return JiraServer(
            title=str(info.get("serverTitle") or ""),
            version=str(info.get("version") or ""),
            deployment_type=deployment,
            account=_account(str(me.get("name") or ""), me),
        )

    def _listing(self) -> Iterator[JiraUser]:
        if self.groups:
            for group in self.groups:
                yield from self._members(group)
            return
        try:
            yield from self._user_list()
        except JiraNotFound:  # before Jira 10: no user/list; search by prefixes
            yield from self._search_everyone()

    def _user_list(self) -> Iterator[JiraUser]:
        """Jira 10's `user/list`: every user, a cursor from page to page."""
        cursor: str | None = None
        while True:
            params: dict[str, str | int | bool] = {"maxResults": PAGE}
            if cursor:
                params["cursor"] = cursor
            page = _object(self.client.get(f"{self.api}/user/list", params), "user/list")
            yield from (_dc_user(u) for u in _list(page.get("values"), "user/list"))
            cursor = page.get("nextCursor")
            if page.get("isLast", True) or not cursor:
                return

    def _search_everyone(self) -> Iterator[JiraUser]:
        """`user/search` has no total and stops at a cap (1,000 users before Jira 10, 100
        from it): search `.` (everyone), and split a query that hits the cap into longer
        prefixes (by login, e-mail or a word of the name, as Jira matches them)."""
        cap = self._search_cap()
        waiting = [EVERYONE]
        while waiting:
            query = waiting.pop()
            users = self._search(query, cap)
            yield from users
            if len(users) < cap:
                continue
            if len(query) >= MAX_PREFIX:
                raise JiraUnavailable(f"Jira's user search still hits its cap at {query!r}")
            stem = "" if query == EVERYONE else query
            # `.` alone asks for everyone again: a login that starts with it is found by
            # the e-mail or the name.
            waiting.extend(q for c in _next_characters(stem, users) if (q := stem + c) != EVERYONE)

    def _search_cap(self) -> int:
        info = _object(self.client.get(f"{self.api}/serverInfo"), "serverInfo")
        numbers = info.get("versionNumbers") or [0]
        major = numbers[0] if isinstance(numbers, list) and numbers else 0
        return 100 if isinstance(major, int) and major >= 10 else 1000

    def _search(self, query: str, cap: int) -> list[JiraUser]:
        found: list[JiraUser] = []
        while len(found) < cap:
            asked = min(PAGE, cap - len(found))
            params: dict[str, str | int | bool] = {
                "username": query,
                "startAt": len(found),
                "maxResults": asked,
                "includeActive": True,
                "includeInactive": True,
            }
            page = _list(self.client.get(f"{self.api}/user/search", params), "user/search")
            found.extend(_dc_user(u) for u in page)
            if len(page) < asked:
                break
        return found

    def _members(self, group: str) -> Iterator[JiraUser]:
        yield from (_dc_user(u) for u in _group_members(self.client, self.api, group))


class Cloud(_Jira):
    """Jira Cloud, REST v3: accounts by accountId; app accounts are not users here."""

    api = "/rest/api/3"

    def _server(self, info: dict[str, Any], me: dict[str, Any]) -> JiraServer:
        return JiraServer(
            title=str(info.get("serverTitle") or ""),
            version=str(info.get("version") or ""),
            deployment_type=str(info.get("deploymentType") or "Cloud"),
            account=_account(str(me.get("emailAddress") or me.get("accountId") or ""), me),
        )

    def _listing(self) -> Iterator[JiraUser]:
        for raw in self._accounts():
            if raw.get("accountType") == "atlassian":  # not app and customer accounts
                yield _cloud_user(raw)

    def _accounts(self) -> Iterator[dict[str, Any]]:
        if self.groups:
            for group in self.groups:
                yield from _group_members(self.client, self.api, group)
            return
        start = 0
        while True:
            params: dict[str, str | int | bool] = {"startAt": start, "maxResults": PAGE}
            page = _list(self.client.get(f"{self.api}/users/search", params), "users/search")
            if not page:  # a page may hold fewer than asked; only an empty one ends it
                return
            yield from (_object(u, "users/search") for u in page)
            start += len(page)


def _group_members(client: JiraClient, api: str, group: str) -> Iterator[dict[str, Any]]:
    start = 0
    while True:
        params: dict[str, str | int | bool] = {
            "groupname": group,
            "includeInactiveUsers": True,
            "startAt": start,
            "maxResults": GROUP_PAGE,
        }
        page = _object(client.get(f"{api}/group/member", params), "group/member")
        values = _list(page.get("values"), "group/member")
        yield from (_object(u, "group/member") for u in values)
        start += len(values)
        if page.get("isLast", True) or not values:
            return


def _next_characters(stem: str, users: list[JiraUser]) -> list[str]:
    """The characters to extend `stem` with: the alphabet, and any that follow it in what
    the capped search found (so that unusual characters are not missed)."""
    seen = set(SEARCH_ALPHABET)
    at = len(stem)
    for user in users:
        for text in (user.login, user.email, *user.display_name.split()):
            text = text.lower()
            if text.startswith(stem) and len(text) > at:
                seen.add(text[at])
    return sorted(seen)


def _dc_user(raw: object) -> JiraUser:
    user = _object(raw, "user")
    name = str(user.get("name") or "")
    return JiraUser(
        key=str(user.get("key") or name),
        login=name,
        display_name=str(user.get("displayName") or name),
        email=str(user.get("emailAddress") or ""),
        active=bool(user.get("active", True)),
    )


def _cloud_user(user: dict[str, Any]) -> JiraUser:
    account = str(user.get("accountId") or "")
    email = str(user.get("emailAddress") or "")
    return JiraUser(
        key=account,
        login=email or account,
        display_name=str(user.get("displayName") or email or account),
        email=email,
        active=bool(user.get("active", True)),
    )


def _account(login: str, me: dict[str, Any]) -> str:
    name = str(me.get("displayName") or "")
    return f"{login} ({name})" if name and name != login else login


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise JiraUnavailable(f"Jira's {what} reply is not the JSON object it should be")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise JiraUnavailable(f"Jira's {what} reply is not the JSON list it should be")
    return value
