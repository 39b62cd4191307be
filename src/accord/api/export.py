"""`GET .../export`: a directory's entries as a CSV file, streamed page by page, or as an
XLSX workbook, built from every page before its first byte."""

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Annotated, Literal

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response, StreamingResponse

from accord.api.context import bearer, context, read, token_use
from accord.domain.filters import parse_filter
from accord.domain.users import Actor
from accord.services import exports, spreadsheets
from accord.services.exports import ExportPage, ExportSpec, Headers
from accord.services.transactions import Transaction, run

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_REPLY = {
    200: {
        "description": (
            "The entries as CSV (RFC 4180, UTF-8) or XLSX (one worksheet, every cell a"
            " string): the id, then every field"
        ),
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            spreadsheets.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "headers": {
            "Content-Disposition": {
                "description": "attachment; filename=<DIRECTORY>.csv (or .xlsx)",
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
        summary="Export the entries (or those a filter selects) as CSV or XLSX",
    )
    async def export_entries(
        request: Request,
        code: Code,
        filter: Annotated[str | None, Query(description="A filter expression")] = None,
        headers: Annotated[
            Literal["names", "codes"], Query(description="Head columns with field names or codes")
        ] = "names",
        raw: Annotated[
            bool,
            Query(description="CSV: no ' before cells starting with = + - @ (for re-import)"),
        ] = False,
        format: Annotated[
            Literal["csv", "xlsx"], Query(description="CSV, or an XLSX workbook")
        ] = "csv",
    ) -> Response:
        parsed = parse_filter(filter) if filter is not None else None
        spec = ExportSpec(code, parsed, Headers(headers), guard=not raw)
        return await export_reply(request, spec, xlsx=format == "xlsx")

    return router


async def export_reply(request: Request, spec: ExportSpec, *, xlsx: bool = False) -> Response:
    """The first page is read (rights, directory and filter checked) before the reply
    starts; each next page in a read transaction of its own, in a worker thread, the
    token checked again in each. An XLSX workbook is built whole (in temporary files)
    before the reply starts, so an error on any page is a problem reply."""
    api, token = context(request), bearer(request)

    def first(tx: Transaction, actor: Actor) -> tuple[ExportPage, str]:
        code = tx.schema.find_directory(spec.directory).code
        return exports.export_page(tx, spec, None, actor=actor), code

    page, code = await read(request, first)

    def read_page(work: Callable[[Transaction, Actor], ExportPage]) -> ExportPage:
        return run(api.database, lambda tx: work(tx, token_use(tx, token).actor), write=False)

    limiter = api.threads(write=False)
    if xlsx:
        chunks = spreadsheets.export_xlsx(page, spec, read_page)
        built = await _built(request, chunks, limiter)
        if built is None:
            return Response(status_code=499)  # the client left: nothing to send it
        body = _in_threads(chunks, limiter, first=built)
    else:
        body = _in_threads(exports.export_csv(page, spec, read_page), limiter)
    name = f"{_UNSAFE.sub('_', code)}.{'xlsx' if xlsx else 'csv'}"
    return StreamingResponse(
        body,
        media_type=spreadsheets.MEDIA_TYPE if xlsx else MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _built(
    request: Request, chunks: Iterator[bytes], limiter: CapacityLimiter
) -> bytes | None:
    """The workbook's first chunk, once every page is read (a page at a time in a worker
    thread, so a long build holds no thread between pages); None if the client went away
    meanwhile, the build then abandoned."""
    while True:
        chunk = await to_thread.run_sync(next, chunks, None, limiter=limiter)
        if chunk != b"":
            return chunk
        if await request.is_disconnected():
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            return None


async def _in_threads(
    chunks: Iterator[bytes], limiter: CapacityLimiter, *, first: bytes | None = None
) -> AsyncIterator[bytes]:
    """`first` (already taken), then each chunk (a page's database read and rendering)
    taken in a worker thread."""
    if first is not None:
        yield first
    while True:
        chunk = await to_thread.run_sync(next, chunks, None, limiter=limiter)
        if chunk is None:
            return
        yield chunk
