"""JSON request bodies read with every digit of their numbers (Decimal, never float).

A CRM keeps amounts of up to 36 digits; a float keeps 17, so `12345678901234567890.5`
sent as a JSON number would be stored rounded. Routes that take field values use
`ExactJsonRoute`, whose requests parse fractions as Decimal and refuse NaN and Infinity
(not JSON, though Python's parser takes them) as malformed JSON, naming where they stand.
"""

import json
import re
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

_STRING_OR_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')
"""A JSON string, or (the group) a constant that Python's parser takes and JSON has not."""


class _Constant(ValueError):
    """NaN or Infinity, met in a body."""


def _refuse_constant(name: str) -> Any:
    raise _Constant(f"{name} is not a JSON number")


class ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
            except _Constant as refused:
                # Refused as any malformed JSON is, naming where it stands
                text = body.decode(json.detect_encoding(body), "surrogatepass")
                raise json.JSONDecodeError(str(refused), text, _constant_at(text)) from None
            if isinstance(self._json, Decimal):
                # FastAPI validates a body model with from_attributes=True, which reads any
                # object that is no JSON type, a Decimal too, as a model of its defaults
                # (`1.5` as an empty search). No route takes a bare number, so none of its
                # digits matter: as a float it is refused as `5` is.
                self._json = float(self._json)
        return self._json


def _constant_at(text: str) -> int:
    """Where the first NaN or Infinity outside a string starts in a JSON text."""
    for found in _STRING_OR_CONSTANT.finditer(text):
        if found.group(1):
            return found.start(1)
    return 0  # pragma: no cover - only called when the decoder met one


class ExactJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(ExactJsonRequest(request.scope, request.receive))

        return exact
