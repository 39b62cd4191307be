"""Browser tests: `accord serve` in a process of its own over a demo database, driven by
Debian's Chromium through Playwright (Playwright's own browser download cannot run here).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess, Templates

CHROMIUM = Path("/usr/bin/chromium")

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`;"
        " .ci/run does)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, Playwright, sync_playwright  # noqa: E402


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def site(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a server of its own over a fresh demo database, for a module's tests."""
    folder = tmp_path_factory.mktemp("browser")
    with templates.fresh("demo") as url, ServerProcess(url, folder, "server") as server:
        server.wait_until_listening()
        yield server.url


@pytest.fixture
def page(chromium: Browser, site: str) -> Iterator[Page]:
    context = chromium.new_context(base_url=site)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()
