"""A real Dovecot IMAP server shared by the bounce tests (skipped with a message where it is not installed)."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bounces.tests.dovecot import Dovecot, dovecot_available
from mailings.tests.sending_support import fast_settings
from tests.support import SmtpServer


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if not dovecot_available():
        pytest.skip("Dovecot is not installed (Debian: apt-get install dovecot-imapd): the IMAP tests need it")
    # Not pytest's tmp_path: its folders are private to the test user, and Dovecot's own users read this one.
    base = Path(tempfile.mkdtemp(prefix="vestnik-dovecot-"))
    server = Dovecot(base).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def server(settings: Any) -> Iterator[SmtpServer]:
    """A real SMTP server (the relay that says 250) with the engine's fast test settings."""
    smtp_server = SmtpServer().start()
    fast_settings(settings, port=smtp_server.controller.port)
    try:
        yield smtp_server
    finally:
        smtp_server.stop()
