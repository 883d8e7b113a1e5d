"""Browser tests: headless Chromium (Debian's) driven by Playwright against the real processes.

Skipped, with the reason, on a machine without Chromium or without the playwright package.
"""

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.live import LiveSite, chromium_path, launch_chromium
from tests.support import SinkHandler, SmtpServer

# The sink refuses these addresses the way a real server refuses an unknown mailbox.
UNKNOWN_MAILBOX = "nobody@"


def browser_unavailable() -> str:
    if importlib.util.find_spec("playwright") is None:
        return "browser tests need the playwright package: pip install -r requirements-dev.txt"
    if chromium_path() is None:
        return (
            "browser tests need Chromium, and this machine has none: "
            "apt-get install chromium (Debian/Ubuntu), then run the tests again"
        )
    return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = browser_unavailable()
    if not reason:
        return
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    def on_rcpt(address: str) -> str | None:
        return "550 5.1.1 User unknown" if address.lower().startswith(UNKNOWN_MAILBOX) else None

    server = SmtpServer(handler=SinkHandler(on_rcpt=on_rcpt)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    live = LiveSite(Path(tmp_path_factory.mktemp("e2e")), smtp_port=smtp.port)
    live.setup()
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def e2e_browser() -> Iterator[Any]:
    # Not named `browser`: that is pytest-playwright's fixture, when the plugin happens to be installed.
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread: Django would refuse ORM calls in it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = launch_chromium(playwright)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
