"""The REST API v1: every route under /api/v1, errors as problem JSON."""

import functools
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from starlette.responses import Response
from starlette.routing import BaseRoute

from accord.api import (
    dictionaries,
    direct,
    directories,
    docs,
    entries,
    export,
    issues,
    jira,
    people,
    problems,
    render,
    search,
)
from accord.api.context import ApiContext, bearer, read
from accord.api.query_text import require_readable
from accord.api.schemas import BEARER, MeModel, problem_responses
from accord.domain.errors import InvalidQuery
from accord.domain.names import MAX_NAME_LENGTH
from accord.domain.users import Actor
from accord.services.secrets import SecretBox
from accord.services.transactions import Database, Transaction

PREFIX = "/api/v1"
ERRORS: dict[int | str, dict[str, Any]] = problem_responses(
    [
        (400, "Bad request (a filter, sort, cursor or parameter)"),
        (401, "No valid token"),
        (403, "Permission denied"),
        (404, "Not found"),
        (409, "Conflict"),
        (412, "Stale version (If-Match)"),
        (413, "Body too large (over ACCORD_MAX_BODY_BYTES)"),
        (414, "URL too long (over 65,535 bytes: send a long filter to .../search)"),
        (422, "Invalid content"),
        (429, "Too many requests, or too many failed authentications"),
        (503, "The request took too long (its database work was stopped)"),
    ]
)


async def token_sent(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
) -> None:
    """A request without a bearer token gets 401 before its parameters are looked at (and
    the document names the scheme); the token itself is checked in the transaction."""
    bearer(request)


async def reject_unknown_parameters(request: Request) -> None:
    """Unknown query parameters are an error, never silently ignored (a typo stays visible),
    and so is one given twice: FastAPI would read only the last (`limit=1&limit=3` as 3),
    and no parameter of this API takes a list. Text that is not UTF-8, or holds a control
    character, is refused before any parameter is read (`api.query_text`)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    require_readable(request.scope.get("query_string", b""))
    unknown = sorted(set(request.query_params) - _query_names(route.dependant))
    if unknown:
        raise InvalidQuery(f"Unknown query parameter(s): {', '.join(unknown)}")
    names = Counter(name for name, _ in request.query_params.multi_items())
    repeated = sorted(name for name, times in names.items() if times > 1)
    if repeated:
        raise InvalidQuery(f"Query parameter(s) given more than once: {', '.join(repeated)}")


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


async def path_directory(
    code: Annotated[str, Path(max_length=MAX_NAME_LENGTH, description="Directory code")],
) -> str:
    return code


async def companies() -> str:
    return "CLIENTS"


async def contacts() -> str:
    return "CONTACTS"


def router() -> APIRouter:
    api = APIRouter(
        prefix=PREFIX,
        dependencies=[Depends(token_sent), Depends(reject_unknown_parameters)],
        responses=ERRORS,
    )
    # Before the entries: the 405's Allow names the first path of the document matching
    # (`problems._allowed_methods`), and `/companies/{entry_id}` matches `/companies/export`.
    api.include_router(export.routes("/directories/{code}", path_directory, "entries"))
    api.include_router(export.routes("/companies", companies, "companies"))
    api.include_router(export.routes("/contacts", contacts, "contacts"))
    api.include_router(entries.routes("/directories/{code}/entries", path_directory, "entries"))
    api.include_router(entries.routes("/companies", companies, "companies"))
    api.include_router(entries.routes("/contacts", contacts, "contacts"))
    api.include_router(directories.router)
    api.include_router(dictionaries.router)
    api.include_router(people.router)
    api.include_router(search.router)
    api.include_router(jira.router)
    api.include_router(issues.router)
    api.add_api_route(
        "/me",
        me,
        methods=["GET"],
        response_model=MeModel,
        tags=["users"],
        summary="Who the token is",
    )
    return api


async def me(request: Request) -> Response:
    def work(tx: Transaction, actor: Actor) -> bytes:
        assert actor.user is not None
        user = actor.user
        return render.dumps(
            {
                "login": user.login,
                "display_name": user.display_name,
                "email": user.email,
                "is_admin": actor.rights.is_admin,
            }
        )

    return Response(await read(request, work, brief=True), media_type="application/json")


@functools.cache
def _built_routes() -> tuple[BaseRoute, ...]:
    """The REST API's routes, built once per process.

    FastAPI analyses every endpoint's signature each time a router is included (0.1 s for
    this API, most of an app's creation); the routes depend on the code alone, since each
    request finds its database and settings on `request.app.state`.
    """
    holder = APIRouter()
    holder.include_router(router())
    return tuple(holder.routes)


def install(app: FastAPI, database: Database, secret_box: SecretBox) -> None:
    app.state.api = ApiContext(database, secret_box)
    problems.install(app, PREFIX)
    app.router.routes.extend(_built_routes())
    app.router.routes[0:0] = direct.routes(PREFIX)  # ahead of the FastAPI routes
    docs.install(app, PREFIX)
