"""Errors as RFC 9457 problem details, mapped from the domain's error codes in one place."""

from collections.abc import Mapping
from decimal import InvalidOperation
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path

from accord.domain.errors import AccordError, Family, InvalidFields
from accord.domain.filters import FilterSyntaxError
from accord.domain.text import well_formed

MEDIA_TYPE = "application/problem+json"


NESTED_TOO_DEEPLY = "The body is nested too deeply to be read (arrays or objects within each other)"
"""A body FastAPI's JSON parser gave up on (a 400 `invalid_json`, as malformed JSON)."""
IN_THE_URL = ("query", "header")
"""Where a malformed value is a 400 (a bad request line); a refused body or path is a 422."""


class ApiError(AccordError):
    """An error only the REST API has (not found routes, rate limits, ...)."""

    def __init__(
        self,
        code: str,
        message: str,
        family: Family,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code  # type: ignore[misc]
        self.family = family  # type: ignore[misc]
        self.headers = headers or {}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str = "",
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    position: int | None = None,
) -> Response:
    body = problem_body(status, code, detail, instance=instance, errors=errors, position=position)
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def problem_body(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str = "",
    errors: list[dict[str, Any]] | None = None,
    position: int | None = None,
) -> bytes:
    """The problem JSON of an error (what `problem` answers, for the server to send itself).
    `position`: where in a filter a syntax error was found (0-based), for a client to point
    at, as the detail does in words."""
    body: dict[str, Any] = {
        "type": f"urn:accord:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    if position is not None:
        body["position"] = position
    return orjson.dumps(_well_formed(body))


def _well_formed(value: Any) -> Any:
    """`value` with each lone surrogate in its texts as U+FFFD, as messages show them.

    A body may hold one (`"\\ud800"` is valid JSON), and a message, a field key or a
    Pydantic location can echo it from there; no UTF-8 text, so no reply, can carry it.
    """
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, dict):
        return {_well_formed(key): _well_formed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_well_formed(item) for item in value]
    return value


def from_error(error: AccordError, instance: str = "") -> Response:
    status = error.family.status
    if error.family is Family.NOT_FOUND and error.field is not None:
        status = 422  # what the body names is missing, not the resource the URL names
    headers = getattr(error, "headers", None)
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="accord"', **(headers or {})}
    return problem(
        status,
        error.code,
        error.message,
        instance=instance,
        errors=_field_errors(error),
        headers=headers,
        position=error.position if isinstance(error, FilterSyntaxError) else None,
    )


def _field_errors(error: AccordError) -> list[dict[str, Any]] | None:
    if isinstance(error, InvalidFields):
        return [_field_error(code, e) for code, e in error.errors]
    if error.field is not None:
        return [_field_error(error.field, error)]
    return None


def _field_error(field: str, error: AccordError) -> dict[str, Any]:
    return {"field": field, "code": error.code, "message": error.message}


def install(app: FastAPI, prefix: str) -> None:
    """Answer every error under `prefix` as problem JSON (others keep their own form)."""

    async def domain_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, AccordError)
        return from_error(error, request.url.path)

    async def validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        malformed = _malformed_json(error)
        if malformed:
            return problem(400, "invalid_json", malformed, instance=request.url.path)
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body",
                "code": str(e.get("type", "invalid")),
                "message": str(e.get("msg", "")),
            }
            for e in error.errors()
        ]
        if all(e.get("loc", ("body",))[0] in IN_THE_URL for e in error.errors()):
            named = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
            detail = f"Bad query parameter or header ({named})"
            return problem(400, "invalid_query", detail, instance=request.url.path, errors=errors)
        return problem(
            422,
            "invalid_request",
            "The request does not match the API's schema",
            instance=request.url.path,
            errors=errors,
        )

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if not request.url.path.startswith(prefix):
            return Response(str(error.detail), status_code=error.status_code, headers=error.headers)
        if isinstance(error.__cause__, RecursionError):
            # FastAPI's reading of a body nested past the parser's stack (about a
            # thousand levels); shallower bodies are read and their values judged.
            return problem(400, "invalid_json", NESTED_TOO_DEEPLY, instance=request.url.path)
        unreadable = _unreadable(error.__cause__)
        if unreadable:
            return problem(400, "invalid_json", unreadable, instance=request.url.path)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem(
            error.status_code,
            code,
            str(error.detail),
            instance=request.url.path,
            headers=headers,
        )

    app.add_exception_handler(AccordError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _unreadable(cause: BaseException | None) -> str:
    """Why the JSON parser could not read a body ("" if not for a reason told here): it
    is not UTF-8, or it holds a number past what Python turns into one (an integer of
    over 4300 digits, an exponent of over 18 digits). FastAPI answers either as "There
    was an error parsing the body", with the parser's error as the cause."""
    if isinstance(cause, UnicodeDecodeError):
        return "The body is not valid JSON: it is not UTF-8 text"
    too_long = isinstance(cause, ValueError) and "integer string conversion" in str(cause)
    if too_long or isinstance(cause, InvalidOperation):
        return "The body is not valid JSON: it holds a number too long to be read"
    return ""


def _malformed_json(error: RequestValidationError) -> str:
    """What is wrong with a body that is not JSON, and where ("" if it is JSON).

    FastAPI reports it as a validation error at `("body", <character offset>)`; the
    offset is no field, so the reply gives it in words, as filter syntax errors do.
    """
    for e in error.errors():
        if e.get("type") == "json_invalid":
            position = int(e["loc"][-1])
            text = error.body if isinstance(error.body, str) else ""
            line = text.count("\n", 0, position) + 1
            column = position - text.rfind("\n", 0, position)
            reason = str(e.get("ctx", {}).get("error", "JSON decode error"))
            return (
                f"The body is not valid JSON: {reason} at position {position}"
                f" (line {line}, column {column})"
            )
    return ""


def _allowed_methods(request: Request) -> list[str]:
    """Every method the API serves at this path, as its OpenAPI document lists them
    (Starlette's 405 names only the first route that matched the path)."""
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            return sorted(m.upper() for m in operations if m.upper() in _METHODS)
    return []


_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}
