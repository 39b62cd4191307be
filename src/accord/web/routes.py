"""The web UI's routes, added to the application at `/` beside the APIs' own."""

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from accord.services.throttle import FailureThrottle
from accord.services.transactions import Database
from accord.settings import Settings
from accord.web import admin, auth, board, bulk, cards, lists, rights, search, tokens
from accord.web.context import STATIC_PATH, WebContext

STATIC = Path(__file__).parent / "static"


def routes() -> list[BaseRoute]:
    return [
        Route("/", lists.home, methods=["GET"]),
        Route("/sign-in", auth.sign_in_form, methods=["GET"]),
        Route("/sign-in", auth.sign_in, methods=["POST"]),
        Route("/sign-out", auth.sign_out, methods=["POST"]),
        Route("/search", search.search_page, methods=["GET"]),
        Route("/search/suggest", search.suggest, methods=["GET"]),
        Route("/tokens", tokens.tokens_page, methods=["GET"]),
        Route("/tokens", tokens.create, methods=["POST"]),
        Route("/tokens/revoke", tokens.revoke, methods=["POST"]),
        Route("/admin", admin.users_page, methods=["GET"]),
        Route("/admin/users", admin.users_page, methods=["GET"]),
        Route("/admin/users", admin.add_user, methods=["POST"]),
        Route("/admin/users/active", admin.set_active, methods=["POST"]),
        Route("/admin/users/password", admin.password_form, methods=["GET"]),
        Route("/admin/users/password", admin.set_password, methods=["POST"]),
        Route("/admin/groups", admin.groups_page, methods=["GET"]),
        Route("/admin/groups", admin.add_group, methods=["POST"]),
        Route("/admin/groups/members", admin.add_member, methods=["POST"]),
        Route("/admin/groups/members/remove", admin.remove_member, methods=["POST"]),
        Route("/admin/rights", rights.rights_page, methods=["GET"]),
        Route("/admin/rights", rights.change, methods=["POST"]),
        Route("/admin/api-key", admin.api_key_page, methods=["GET"]),
        Route("/admin/api-key", admin.generate_api_key, methods=["POST"]),
        Route("/d/{code}", lists.entries_list, methods=["GET"]),
        Route("/d/{code}/pick", search.pick, methods=["GET"]),
        Route("/d/{code}/board", board.board, methods=["GET"]),
        Route("/d/{code}/bulk", bulk.bulk, methods=["POST"]),
        Route("/d/{code}/new", cards.new_form, methods=["GET"]),
        Route("/d/{code}/new", cards.create, methods=["POST"]),
        Route("/d/{code}/{entry_id}", cards.card, methods=["GET"]),
        Route("/d/{code}/{entry_id}/edit", cards.edit_form, methods=["GET"]),
        Route("/d/{code}/{entry_id}/edit", cards.save, methods=["POST"]),
        Route("/d/{code}/{entry_id}/delete", cards.delete_form, methods=["GET"]),
        Route("/d/{code}/{entry_id}/delete", cards.delete, methods=["POST"]),
        Route("/d/{code}/{entry_id}/move", board.move, methods=["POST"]),
        Mount(STATIC_PATH, app=StaticFiles(directory=STATIC), name="static"),
    ]


def install(
    app: Starlette,
    database: Database,
    settings: Settings,
    sign_ins: FailureThrottle | None = None,
) -> None:
    """The web UI's routes at the end of `app`'s (the APIs' paths are matched first); the
    failed sign-ins counted in `sign_ins` (None: a throttle of this app's own)."""
    throttle = sign_ins or FailureThrottle(settings.sign_in_failure_limit)
    app.state.web = WebContext(database, throttle)
    app.state.settings = settings
    app.router.routes.extend(routes())
