"""Fixtures of the account tests: the shared cache table, an empty task queue, a scratch media folder."""

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.cache import cache
from django.core.management import call_command

from config.testing import SinkHandler, SmtpServer, clear_tasks


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    # The database cache (the default without Redis) keeps the resend limit; tests need its table.
    with django_db_blocker.unblock():
        call_command("createcachetable", verbosity=0)


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Any, db: None) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    # Redis (cache and RQ queues) outlives a test's transaction; the database backend rolls back anyway.
    cache.clear()
    clear_tasks()
    yield
    cache.clear()


class _BoundPortController(Controller):
    # aiosmtpd 1.4.6 pokes the new server at (hostname, port); with port=0 that is refused.
    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _SmtpServer(SmtpServer):
    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.controller = _BoundPortController(self.handler, hostname="127.0.0.1", port=0)


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    """The shared fixture with a server that starts on a free port (see _BoundPortController)."""
    server = _SmtpServer().start()
    # Django's test set-up swaps in the locmem backend; this fixture is about the real thing.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    try:
        yield server
    finally:
        server.stop()
