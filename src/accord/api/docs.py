"""The API's description: the OpenAPI document, and Swagger UI to read and try it.

Swagger UI's files come from an installed package (fastapi-offline), served by the app
itself under `<prefix>/docs/assets`: the page works with no internet, and it names no
other host (the validator badge, which would call one, is off).
"""

from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from accord.api.schemas import IDEMPOTENCY_KEY, ProblemModel

ASSETS = Path(str(files("fastapi_offline") / "static"))
"""swagger-ui-bundle.js and swagger-ui.css (Swagger UI 5), as the package ships them."""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Accord REST API v1</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{docs}/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="{docs}/assets/swagger-ui-bundle.js"></script>
<script src="{docs}/init.js"></script>
</body>
</html>
"""

INIT = """"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.getElementById("swagger-ui").dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});
"""

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
"""Only this server's files run on the page (Swagger UI styles some elements inline)."""

WRITES = ("post", "patch")
"""The methods whose every operation honours an Idempotency-Key (`context.write_once`)."""
READS_SENT_AS_POST = ("/search",)
"""Operations that only read, sent as POST to carry a body: repeating them writes nothing,
so a key would promise nothing (and keeping their pages as replies would cost a write)."""


def install(app: FastAPI, prefix: str) -> None:
    """Serve `<prefix>/docs` and complete the document at `app.openapi_url`."""
    docs = f"{prefix}/docs"

    async def page(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        html = PAGE.format(docs=escape(root + docs), openapi=escape(root + str(app.openapi_url)))
        return HTMLResponse(html, headers={"Content-Security-Policy": POLICY})

    async def init(_request: Request) -> Response:
        return Response(INIT, media_type="text/javascript")

    app.add_api_route(docs, page, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{docs}/init.js", init, methods=["GET"], include_in_schema=False)
    app.mount(f"{docs}/assets", StaticFiles(directory=ASSETS), name="api-docs-assets")
    _complete_openapi(app)


def _complete_openapi(app: FastAPI) -> None:
    """Add what the routes refer to but FastAPI cannot infer: the problem JSON schema
    (routes name it by `$ref`, see `schemas.problem_responses`), and the Idempotency-Key
    header every write takes (read from the request, not declared as a parameter)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if "ProblemModel" not in schemas:
            problem = ProblemModel.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))
            schemas["ProblemModel"] = problem
        _declare_idempotency_keys(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


def _declare_idempotency_keys(document: dict[str, Any]) -> None:
    """Name the Idempotency-Key header on every POST and PATCH that writes, once."""
    for path, operations in document.get("paths", {}).items():
        if path.endswith(READS_SENT_AS_POST):
            continue
        for method in WRITES:
            if method not in operations:
                continue
            parameters = operations[method].setdefault("parameters", [])
            if "idempotency-key" not in _header_names(parameters):
                parameters.append(dict(IDEMPOTENCY_KEY))


def _header_names(parameters: list[dict[str, Any]]) -> set[str]:
    return {str(p.get("name", "")).lower() for p in parameters if p.get("in") == "header"}
