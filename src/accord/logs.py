"""The server's log: lines of text or JSON objects on stderr, the request id on every line
logged while serving a request, and an access log cheap enough to leave on.

`configure(log_format)` sets a process's logging up (`accord serve` does, once): one
handler on the root logger, writing `text` lines (`2026-01-31 12:00:00,123 INFO
accord.x message id=...`) or `json` lines (one object a line: `time` in UTC, `level`,
`logger`, `message`, `request_id` while serving a request, `exception` with a
traceback; an access line adds `method`, `path`, `command`, `status`, `duration_ms`).

The access log writes a line per request, so it is the one line whose cost counts: the
logging module's way (a record, the caller's frame, the handlers' locks, a formatted
time, a write and a flush) took a quarter of a point read. Once `configure` has run, a
request only appends a tuple to a queue (`AccessWriter.put`); a thread of the writer's
own formats what came in the last `WRITE_INTERVAL` and writes it in a few writes of
whole lines. The lines still pass `logging`'s level of `accord.access` (set it above
INFO to silence them); what they skip is the handlers of that logger: they go to the
configured stream. Without `configure` (the app used as a library, the tests), each
access line is a record of `accord.access`, handled at once by whatever handlers the
process has.
"""

import atexit
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TextIO

import orjson

REQUEST_ID: ContextVar[str | None] = ContextVar("accord_request_id", default=None)
"""The id of the request this task or thread serves (None: none), set by the app's
outermost layer; every line logged meanwhile carries it."""
ACCESS_LOGGER = "accord.access"
access_log = logging.getLogger(ACCESS_LOGGER)

AccessLine = tuple[float, str, str, str | None, int, float, str]
"""An access line as a request leaves it: its end (`time.time()`), method, path, the
legacy command it named (None: none), status, milliseconds taken, request id. A plain
tuple: the cheapest thing to make on a request's path."""

WRITE_INTERVAL = 0.2
"""Seconds the writer gathers access lines before it writes them."""
MAX_PENDING_LINES = 100_000
"""Access lines kept waiting at most (a stream that stopped taking them: a full pipe);
past it, lines are dropped, and the count of them written once the stream takes lines
again."""
WRITE_BYTES = 4096
"""The longest single write of access lines: at most a pipe's atomic write (PIPE_BUF),
so lines of several processes sharing one stderr never cut into each other."""


ACCESS_MESSAGE = "%s %s %s %d %.1fms id=%s"
"""An access line's message: method, path, `command=...` or `-`, status, time, id."""


def access_message(line: AccessLine) -> str:
    _, method, path, command, status, milliseconds, request_id = line
    shown = "-" if command is None else "command=" + command
    return ACCESS_MESSAGE % (method, path, shown, status, milliseconds, request_id)


def access_fields(line: AccessLine) -> dict[str, Any]:
    _, method, path, command, status, milliseconds, request_id = line
    return {
        "request_id": request_id,
        "method": method,
        "path": path,
        "command": command,
        "status": status,
        "duration_ms": round(milliseconds, 3),
    }


class Stamp:
    """A time as text to the millisecond: `pattern` (strftime's, of the time `convert`
    gives) made once a second, then the milliseconds and `suffix` (time.strftime, for
    every line, was a tenth of the cost of a line)."""

    def __init__(
        self, pattern: str, convert: Callable[[float], time.struct_time], suffix: str
    ) -> None:
        self.pattern = pattern
        self.convert = convert
        self.suffix = suffix
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, created: float) -> str:
        second = int(created)
        cached = self._second
        if cached[0] != second:  # a tuple: threads that race each store a right one
            cached = self._second = (second, time.strftime(self.pattern, self.convert(second)))
        return f"{cached[1]}{int((created - second) * 1000):03d}{self.suffix}"


class LineFormatter(logging.Formatter):
    """What a log line looks like, for records and for access lines alike."""

    def format_access(self, line: AccessLine) -> str:
        raise NotImplementedError


_TEXT_ACCESS = f"%s INFO {ACCESS_LOGGER} {ACCESS_MESSAGE}"


class TextLines(LineFormatter):
    """`time level logger message`, then ` id=...` when it was logged serving a request;
    a traceback follows on the next lines. The time is the local time, as logging's
    default writes it (with a comma before the milliseconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.stamp = Stamp("%Y-%m-%d %H:%M:%S,", time.localtime, "")

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        request_id = record.__dict__.get("request_id")
        if request_id and record.name != ACCESS_LOGGER:  # an access line shows it already
            message = f"{message} id={request_id}"
        text = f"{self.stamp(record.created)} {record.levelname} {record.name} {message}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            text = f"{text}\n{self.formatStack(record.stack_info)}"
        return text

    def format_access(self, line: AccessLine) -> str:
        # Written out, not through `access_message`: it is the writer's whole work a line.
        created, method, path, command, status, milliseconds, request_id = line
        shown = "-" if command is None else "command=" + command
        fields = (self.stamp(created), method, path, shown, status, milliseconds, request_id)
        return _TEXT_ACCESS % fields


class JsonLines(LineFormatter):
    """One JSON object a line: `time` (UTC, RFC 3339, milliseconds), `level`, `logger`,
    `message`, and when they apply `request_id`, `exception`, `stack`, and the fields
    of an access line. A record's `fields` attribute (a dict) adds fields of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.stamp = Stamp("%Y-%m-%dT%H:%M:%S.", time.gmtime, "Z")

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.stamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = record.__dict__.get("request_id")
        if request_id:
            line["request_id"] = request_id
        fields = record.__dict__.get("fields")
        if isinstance(fields, dict):
            line.update((key, value) for key, value in fields.items() if key not in line)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()

    def format_access(self, line: AccessLine) -> str:
        fields = {
            "time": self.stamp(line[0]),
            "level": "INFO",
            "logger": ACCESS_LOGGER,
            "message": access_message(line),
            **access_fields(line),
        }
        return orjson.dumps(fields).decode()


FORMATTERS: dict[str, type[LineFormatter]] = {"text": TextLines, "json": JsonLines}


class RequestIds(logging.Filter):
    """Gives each record the id of the request being served where it was logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__:
            record.request_id = REQUEST_ID.get()
        return True


class AccessWriter:
    """Access lines, written to `handler`'s stream in batches by a thread of their own.

    A request's part is `put`: a queue append, and once per batch an event set. The
    lines are formatted in the thread too: formatting them in `put` instead, so that the
    thread only wrote, measured no better under load (the thread, woken 5 times a
    second, takes the interpreter's lock for a few milliseconds each time).
    """

    def __init__(
        self,
        handler: "logging.StreamHandler[TextIO]",
        formatter: LineFormatter,
        *,
        interval: float = WRITE_INTERVAL,
    ) -> None:
        self.handler = handler
        self.formatter = formatter
        self.interval = interval
        self.lines: deque[AccessLine] = deque()
        self.dropped = 0
        self._pending = False
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._draining = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="accord-access-log", daemon=True)
        self._thread.start()

    def put(self, line: AccessLine) -> None:
        if len(self.lines) >= MAX_PENDING_LINES:
            self.dropped += 1
            return
        self.lines.append(line)
        if not self._pending:
            self._pending = True
            self._wake.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait()
            self._stopped.wait(self.interval)  # gather a batch (at once when stopping)
            # Flags down before the queue is read: a line put from here on sets them again.
            self._wake.clear()
            self._pending = False
            self.flush()

    def flush(self) -> None:
        """Write every line put so far (and wait for the writer's batch in progress)."""
        with self._draining:
            format_access, lines = self.formatter.format_access, self.lines
            # As many as are there now: others only append meanwhile.
            batch = [format_access(lines.popleft()) for _ in range(len(lines))]
            if self.dropped:
                dropped, self.dropped = self.dropped, 0
                batch.append(self._note(f"{dropped} access lines dropped: the log did not keep up"))
            if batch:
                self._write(batch)

    def _note(self, message: str) -> str:
        record = logging.LogRecord(ACCESS_LOGGER, logging.WARNING, __file__, 0, message, (), None)
        return self.formatter.format(record)

    def _write(self, lines: list[str]) -> None:
        chunks: list[str] = []
        size = 0
        self.handler.acquire()
        try:
            stream = self.handler.stream
            for line in lines:
                if size + len(line) >= WRITE_BYTES and chunks:
                    stream.write("".join(chunks))
                    stream.flush()
                    chunks, size = [], 0
                chunks.append(line + "\n")
                size += len(line) + 1
            stream.write("".join(chunks))
            stream.flush()
        except Exception:  # a closed or broken stream: as logging does, say so and go on
            if logging.raiseExceptions:
                print("--- Logging error (access log) ---", file=sys.__stderr__)
        finally:
            self.handler.release()

    def stop(self) -> None:
        """Write what is queued, and end the thread."""
        self._stopped.set()
        self._wake.set()
        self._thread.join()
        self.flush()


_writer: AccessWriter | None = None


def access_writer() -> AccessWriter | None:
    """The process's access log writer, once `configure` has run."""
    return _writer


def log_access(line: AccessLine) -> None:
    """One access line: to the writer if the process has one, else as a record of
    `accord.access` to the process's handlers."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    writer = _writer
    if writer is not None:
        writer.put(line)
        return
    record = access_log.makeRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 0, access_message(line), (), None
    )
    record.created = line[0]
    record.request_id = line[6]
    record.fields = access_fields(line)
    access_log.handle(record)


def configure(log_format: str, *, stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """The process's logging: one handler on the root logger writing `log_format` lines
    ("text" or "json") to `stream` (stderr), and access lines through an `AccessWriter`.
    Replaces what an earlier call set up."""
    global _writer
    if log_format not in FORMATTERS:
        raise ValueError(f"The log format is text or json, not {log_format!r}")
    formatter = FORMATTERS[log_format]()
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIds())
    if _writer is not None:
        _writer.stop()
    logging.basicConfig(level=level, handlers=[handler], force=True)
    _writer = AccessWriter(handler, formatter)


def shutdown() -> None:
    """Write the access lines still queued, and stop the writer: access lines go to the
    process's handlers again, as before `configure`."""
    global _writer
    writer, _writer = _writer, None
    if writer is not None:
        writer.stop()


def flush() -> None:
    """Write the access lines still queued (at exit, and for those who read the log)."""
    writer = _writer
    if writer is not None:
        writer.flush()


atexit.register(flush)
