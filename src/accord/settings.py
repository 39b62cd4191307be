"""Configuration: `ACCORD_*` environment variables, read once into one object."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///accord.db"


def _flag(value: str) -> bool:
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"Not a yes/no value: {value!r}")


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

    def __post_init__(self) -> None:
        if self.api_rate_limit < 0 or self.api_rate_burst < 0:
            raise ValueError("ACCORD_API_RATE_LIMIT and ACCORD_API_RATE_BURST are 0 or more")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            database_url=env.get("ACCORD_DATABASE_URL", defaults.database_url),
            sqlite_synchronous=env.get("ACCORD_SQLITE_SYNCHRONOUS", defaults.sqlite_synchronous),
            access_log=_flag(env.get("ACCORD_ACCESS_LOG", "1")),
            run_jobs=_flag(env.get("ACCORD_RUN_JOBS", "1")),
            max_request_bytes=int(env.get("ACCORD_MAX_REQUEST_BYTES", defaults.max_request_bytes)),
            api_rate_limit=int(env.get("ACCORD_API_RATE_LIMIT", defaults.api_rate_limit)),
            api_rate_burst=int(env.get("ACCORD_API_RATE_BURST", defaults.api_rate_burst)),
        )
