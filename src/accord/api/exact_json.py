"""JSON request bodies read with every digit of their numbers (Decimal, never float).

A CRM keeps amounts of up to 36 digits; a float keeps 17, so `12345678901234567890.5`
sent as a JSON number would be stored rounded. Routes that take field values use
`ExactJsonRoute`, whose requests parse fractions as Decimal and refuse NaN and Infinity
(not JSON, though Python's parser takes them).
"""

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            self._json = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
        return self._json


class ExactJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(ExactJsonRequest(request.scope, request.receive))

        return exact
