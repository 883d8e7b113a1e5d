"""Fixtures of the SMTP account tests: two shops, each with its own real SMTP server that asks for a login."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from mailings.tests.sending_support import fast_settings
from senders.tests.support import AuthSmtpServer
from tests.support import clear_tasks

PASSWORD_A = "app-pass-A-7f3kq9"
PASSWORD_B = "app-pass-B-x2m8w4"


@pytest.fixture(autouse=True)
def _isolated(settings: Any, db: None) -> Iterator[None]:
    # The service account points at a port nobody listens on: a message that leaked to it would fail.
    fast_settings(settings, port=9)
    cache.clear()
    clear_tasks()
    yield
    cache.clear()


@pytest.fixture
def server_a() -> Iterator[AuthSmtpServer]:
    server = AuthSmtpServer(login="shop@a.example", password=PASSWORD_A).start()
    yield server
    server.stop()


@pytest.fixture
def server_b() -> Iterator[AuthSmtpServer]:
    """Shop B's server refuses every login (a revoked app password)."""
    server = AuthSmtpServer(login="shop@b.example", password=PASSWORD_B, refuse_all=True).start()
    yield server
    server.stop()
