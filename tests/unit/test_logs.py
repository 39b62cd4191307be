"""The log's lines (text and JSON), the access writer, and the settings that choose them."""

import io
import json
import logging
import re
import sys

import pytest

from accord import logs
from accord.settings import Settings

LINE: logs.AccessLine = (
    1_700_000_000.25,
    "GET",
    "/plugins/servlet/crm/api",
    "getcompanybyname",
    200,
    0.4567,
    "abcd0123abcd0123",
)


def record(message: str, *, request_id: str | None = None) -> logging.LogRecord:
    made = logging.LogRecord("accord.x", logging.WARNING, __file__, 1, message, (), None)
    made.created = LINE[0]
    made.request_id = request_id
    return made


def test_a_text_access_line_is_as_before() -> None:
    text = logs.TextLines().format_access(LINE)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,250 INFO accord.access GET /plugins/servlet/crm/api"
        r" command=getcompanybyname 200 0.5ms id=abcd0123abcd0123",
        text,
    )


def test_a_text_line_logged_serving_a_request_ends_with_its_id() -> None:
    formatter = logs.TextLines()
    assert formatter.format(record("slow", request_id="r-1")).endswith(
        " WARNING accord.x slow id=r-1"
    )
    assert formatter.format(record("idle")).endswith(" WARNING accord.x idle")


def test_a_json_access_line_has_the_time_in_utc_and_every_field() -> None:
    line = json.loads(logs.JsonLines().format_access(LINE))
    assert line == {
        "time": "2023-11-14T22:13:20.250Z",
        "level": "INFO",
        "logger": "accord.access",
        "message": "GET /plugins/servlet/crm/api command=getcompanybyname 200 0.5ms"
        " id=abcd0123abcd0123",
        "request_id": "abcd0123abcd0123",
        "method": "GET",
        "path": "/plugins/servlet/crm/api",
        "command": "getcompanybyname",
        "status": 200,
        "duration_ms": 0.457,
    }


def test_a_json_line_holds_its_traceback_on_one_line() -> None:
    try:
        raise ValueError("broken\nacross lines")
    except ValueError:
        failed = record("it failed", request_id="r-2")
        failed.exc_info = sys.exc_info()
    text = logs.JsonLines().format(failed)
    assert "\n" not in text
    line = json.loads(text)
    assert (line["message"], line["request_id"], line["level"]) == ("it failed", "r-2", "WARNING")
    assert "ValueError: broken\nacross lines" in line["exception"]


class Writes(io.StringIO):
    """A stream that keeps each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_the_writer_writes_whole_lines_in_writes_a_pipe_keeps_whole() -> None:
    stream = Writes()
    writer = logs.AccessWriter(logging.StreamHandler(stream), logs.TextLines(), interval=60)
    lines = [(*LINE[:2], f"/p/{n}", *LINE[3:]) for n in range(300)]
    for line in lines:
        writer.put(line)  # type: ignore[arg-type]
    writer.stop()
    written = [text for text in stream.writes if text]
    assert len(written) > 1
    assert all(len(text.encode()) <= logs.WRITE_BYTES and text.endswith("\n") for text in written)
    paths = [text.split()[5] for text in stream.getvalue().splitlines()]
    assert paths == [f"/p/{n}" for n in range(300)]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ACCORD_LOG_FORMAT": "xml"}, "ACCORD_LOG_FORMAT is text or json, not 'xml'"),
        ({"ACCORD_METRICS": "maybe"}, "ACCORD_METRICS is 1 or 0 (yes or no), not 'maybe'"),
        ({"ACCORD_ACCESS_LOG": "loud"}, "ACCORD_ACCESS_LOG is 1 or 0 (yes or no), not 'loud'"),
    ],
)
def test_a_bad_setting_is_refused_with_its_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings.from_env(env)


def test_the_settings_read_their_variables() -> None:
    settings = Settings.from_env({"ACCORD_LOG_FORMAT": " JSON ", "ACCORD_METRICS": "0"})
    assert (settings.log_format, settings.metrics) == ("json", False)
    assert (Settings.from_env({}).log_format, Settings.from_env({}).metrics) == ("text", True)
