"""`GET .../export`: a directory's entries as a CSV file, streamed page by page."""

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Annotated, Literal

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response, StreamingResponse

from accord.api.context import bearer, context, read, token_use
from accord.domain.filters import parse_filter
from accord.domain.users import Actor
from accord.services import exports
from accord.services.exports import ExportPage, ExportSpec, Headers
from accord.services.transactions import Transaction, run

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_REPLY = {
    200: {
        "description": "The entries as CSV (RFC 4180, UTF-8): the id, then every field",
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "headers": {
            "Content-Disposition": {
                "description": "attachment; filename=<DIRECTORY>.csv",
                "schema": {"type": "string"},
            }
        },
    }
}


def routes(base: str, code_of: Callable[..., Awaitable[str]], tag: str) -> APIRouter:
    """`GET {base}/export` for the directory `code_of` names."""
    router = APIRouter(prefix=base, tags=[tag])
    Code = Annotated[str, Depends(code_of)]  # noqa: N806 - a type, named as one

    @router.get(
        "/export",
        response_class=Response,
        responses=CSV_REPLY,  # type: ignore[arg-type]
        summary="Export the entries (or those a filter selects) as CSV",
    )
    async def export_entries(
        request: Request,
        code: Code,
        filter: Annotated[str | None, Query(description="A filter expression")] = None,
        headers: Annotated[
            Literal["names", "codes"], Query(description="Head columns with field names or codes")
        ] = "names",
        raw: Annotated[
            bool, Query(description="No ' before cells starting with = + - @ (for re-import)")
        ] = False,
    ) -> Response:
        parsed = parse_filter(filter) if filter is not None else None
        spec = ExportSpec(code, parsed, Headers(headers), guard=not raw)
        return await export_reply(request, spec)

    return router


async def export_reply(request: Request, spec: ExportSpec) -> Response:
    """The first page is read (rights, directory and filter checked) before the reply
    starts; each next page in a read transaction of its own, in a worker thread, the
    token checked again in each."""
    api, token = context(request), bearer(request)

    def first(tx: Transaction, actor: Actor) -> tuple[ExportPage, str]:
        code = tx.schema.find_directory(spec.directory).code
        return exports.export_page(tx, spec, None, actor=actor), code

    page, code = await read(request, first)

    def read_page(work: Callable[[Transaction, Actor], ExportPage]) -> ExportPage:
        return run(api.database, lambda tx: work(tx, token_use(tx, token).actor), write=False)

    chunks = exports.export_csv(page, spec, read_page)
    return StreamingResponse(
        _in_threads(chunks, api.threads(write=False)),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{_UNSAFE.sub("_", code)}.csv"'},
    )


async def _in_threads(chunks: Iterator[bytes], limiter: CapacityLimiter) -> AsyncIterator[bytes]:
    """Each chunk (a page's database read and rendering) taken in a worker thread."""
    while True:
        chunk = await to_thread.run_sync(next, chunks, None, limiter=limiter)
        if chunk is None:
            return
        yield chunk
