"""Configuration: `ACCORD_*` environment variables, read once into one object."""

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

DEFAULT_DATABASE_URL = "sqlite:///accord.db"


def _flag(value: str) -> bool:
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"Not a yes/no value: {value!r}")


def _named_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """The yes/no variable `name`, its name in the message when its value is neither."""
    value = env.get(name)
    if value is None:
        return default
    try:
        return _flag(value)
    except ValueError:
        raise ValueError(f"{name} is 1 or 0 (yes or no), not {value!r}") from None


_PUBLIC_URL = re.compile(r"https?://[^\s/?#@]+(/[^\s?#]*)?")
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
"""Where links into Accord point when nothing says otherwise (`accord serve`'s default)."""


def listening_url(host: str, port: int) -> str:
    """The base URL of a server listening on `host` and `port` (any address: this
    machine's name)."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


LOG_FORMATS = ("text", "json")
"""What `ACCORD_LOG_FORMAT` may name: lines of text, or one JSON object a line."""


def _list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL: `sqlite:///accord.db` (default) or `postgresql+psycopg://...`."""
    sqlite_synchronous: str = "FULL"
    """FULL: a write acknowledged is on disk even if the machine loses power."""
    access_log: bool = True
    run_jobs: bool = True
    """Run background jobs (the Jira user sync) in the server process."""
    max_request_bytes: int = 1024 * 1024
    api_rate_limit: int = 0
    """REST API requests a minute per token (or per client address without one); 0: no limit."""
    api_rate_burst: int = 0
    """How many requests may come at once (the bucket's size); 0: as many as `api_rate_limit`."""
    max_body_bytes: int = 4 * 1024 * 1024
    """Largest REST API request body; a longer one is refused (413) while it is read."""
    statement_timeout: float = 30.0
    """Seconds one database statement of a request may run before it is cancelled; 0: none."""
    max_header_bytes: int = 64 * 1024
    """Largest set of request headers read (the URL has its own limit, 65,535 bytes); past
    it the reply is a 431 and the connection closes."""
    header_timeout: float = 10.0
    """Seconds a client has to send a request's head once it starts (or once it connects),
    and between two parts of its body; 0: no limit."""
    idle_timeout: float = 5.0
    """Seconds a kept-alive connection may sit idle between requests; 0: closed after each
    reply."""
    max_connections: int = 2048
    """Open connections a process keeps; a new one past this closes the idlest."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks (CIDR) whose X-Forwarded-For names the client; none by default."""
    auth_failure_limit: int = 60
    """Failed authentications a minute per client address and per credential, on either API,
    before further attempts are refused for a while; 0: no limit."""
    sign_in_failure_limit: int = 10
    """Failed web sign-ins a minute per login and per client address before that login or
    address is refused for a minute; 0: no limit."""
    sqlite_wal_limit_bytes: int = 64 * 1024 * 1024
    """Size SQLite's write-ahead log is cut back to after a checkpoint."""
    log_format: str = "text"
    """How `accord serve` writes its log to stderr: `text` lines, or `json` (one object a
    line: time, level, logger, message, and the request id of a line logged while serving
    one)."""
    metrics: bool = True
    """Count requests and serve them at `GET /metrics` (Prometheus' text format, without a
    token, as scrapers expect: it holds counts and timings by route, never users' data)."""
    jira_sync_minutes: int = 0
    """Minutes between scheduled Jira user syncs, while Jira is connected; 0: none."""
    secret_key: str = field(default="", repr=False)
    """The key that encrypts stored secrets (the Jira credential); "": the key file's."""
    public_url: str = ""
    """The address people reach Accord at (Jira's remote links point there); "": the
    address the server listens on (`listening_url`)."""
    secret_key_file: str = ""
    """Where the key is kept when `secret_key` is "" ("": beside the SQLite file, or
    `accord.key` in the working folder for PostgreSQL); made on first use."""

    def __post_init__(self) -> None:
        if self.log_format not in LOG_FORMATS:
            raise ValueError(f"ACCORD_LOG_FORMAT is text or json, not {self.log_format!r}")
        if self.api_rate_limit < 0 or self.api_rate_burst < 0:
            raise ValueError("ACCORD_API_RATE_LIMIT and ACCORD_API_RATE_BURST are 0 or more")
        for name in ("max_body_bytes", "max_header_bytes", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"ACCORD_{name.upper()} is 1 or more")
        for name in ("statement_timeout", "header_timeout", "idle_timeout"):
            if getattr(self, name) < 0:
                raise ValueError(f"ACCORD_{name.upper()} is 0 or more")
        if self.jira_sync_minutes < 0:
            raise ValueError("ACCORD_JIRA_SYNC_MINUTES is 0 or more")
        if self.auth_failure_limit < 0 or self.sqlite_wal_limit_bytes < 0:
            raise ValueError(
                "ACCORD_AUTH_FAILURE_LIMIT and ACCORD_SQLITE_WAL_LIMIT_BYTES are 0 or more"
            )
        if self.sign_in_failure_limit < 0:
            raise ValueError("ACCORD_SIGN_IN_FAILURE_LIMIT is 0 or more")
        if self.public_url and not _PUBLIC_URL.fullmatch(self.public_url):
            raise ValueError(
                f"ACCORD_PUBLIC_URL is an http(s) base address such as "
                f"https://crm.example.com, not {self.public_url[:200]!r}"
            )

    def with_listening_address(self, host: str, port: int) -> "Settings":
        """These settings, the public URL defaulting to the address served on."""
        if self.public_url:
            return self
        return replace(self, public_url=listening_url(host, port))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            database_url=env.get("ACCORD_DATABASE_URL", defaults.database_url),
            sqlite_synchronous=env.get("ACCORD_SQLITE_SYNCHRONOUS", defaults.sqlite_synchronous),
            access_log=_named_flag(env, "ACCORD_ACCESS_LOG", defaults.access_log),
            run_jobs=_flag(env.get("ACCORD_RUN_JOBS", "1")),
            max_request_bytes=int(env.get("ACCORD_MAX_REQUEST_BYTES", defaults.max_request_bytes)),
            api_rate_limit=int(env.get("ACCORD_API_RATE_LIMIT", defaults.api_rate_limit)),
            api_rate_burst=int(env.get("ACCORD_API_RATE_BURST", defaults.api_rate_burst)),
            max_body_bytes=int(env.get("ACCORD_MAX_BODY_BYTES", defaults.max_body_bytes)),
            statement_timeout=float(
                env.get("ACCORD_STATEMENT_TIMEOUT", defaults.statement_timeout)
            ),
            max_header_bytes=int(env.get("ACCORD_MAX_HEADER_BYTES", defaults.max_header_bytes)),
            header_timeout=float(env.get("ACCORD_HEADER_TIMEOUT", defaults.header_timeout)),
            idle_timeout=float(env.get("ACCORD_IDLE_TIMEOUT", defaults.idle_timeout)),
            max_connections=int(env.get("ACCORD_MAX_CONNECTIONS", defaults.max_connections)),
            trusted_proxies=_list(env.get("ACCORD_TRUSTED_PROXIES", "")),
            auth_failure_limit=int(
                env.get("ACCORD_AUTH_FAILURE_LIMIT", defaults.auth_failure_limit)
            ),
            sign_in_failure_limit=int(
                env.get("ACCORD_SIGN_IN_FAILURE_LIMIT", defaults.sign_in_failure_limit)
            ),
            sqlite_wal_limit_bytes=int(
                env.get("ACCORD_SQLITE_WAL_LIMIT_BYTES", defaults.sqlite_wal_limit_bytes)
            ),
            log_format=env.get("ACCORD_LOG_FORMAT", defaults.log_format).strip().lower(),
            metrics=_named_flag(env, "ACCORD_METRICS", defaults.metrics),
            jira_sync_minutes=int(env.get("ACCORD_JIRA_SYNC_MINUTES", "0")),
            secret_key=env.get("ACCORD_SECRET_KEY", ""),
            secret_key_file=env.get("ACCORD_SECRET_KEY_FILE", ""),
            public_url=env.get("ACCORD_PUBLIC_URL", "").strip().rstrip("/"),
        )
