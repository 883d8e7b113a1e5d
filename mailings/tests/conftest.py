"""Fixtures shared by the mailings tests."""

from collections.abc import Iterator
from typing import Any

import pytest

from mailings.tests.sending_support import assert_never_twice, fast_settings
from tests.support import SmtpServer


@pytest.fixture
def server(settings: Any) -> Iterator[SmtpServer]:
    """A real SMTP server with the engine's fast test settings pointed at it; no recipient may get two copies."""
    smtp_server = SmtpServer().start()
    fast_settings(settings, port=smtp_server.controller.port)
    try:
        yield smtp_server
    finally:
        smtp_server.stop()
    assert_never_twice(smtp_server.handler)
