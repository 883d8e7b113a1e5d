"""The small fixed world every test suite shares, and a real SMTP server."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone
from pytest_django import Settings

from tests.support import SmtpServer

if TYPE_CHECKING:
    # Imported inside the functions at run time: the app registry is not ready when pytest loads this file.
    from users.models import User

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def password() -> str:
    return PASSWORD


def _user(email: str, **extra: object) -> "User":
    from users.models import User

    extra.setdefault("email_confirmed_at", timezone.now())
    return User.objects.create_user(email=email, password=PASSWORD, first_name=email.split("@")[0], **extra)


@pytest.fixture
def owner(db: None) -> "User":
    return _user("owner@example.com")


@pytest.fixture
def other_user(db: None) -> "User":
    return _user("other@example.com")


@pytest.fixture
def manager(db: None) -> "User":
    from users.roles import MANAGERS_GROUP, groups_ensure

    user = _user("manager@example.com")
    group = groups_ensure()[MANAGERS_GROUP]
    user.groups.add(group)
    return user


@pytest.fixture
def blocked_user(db: None, manager: "User") -> "User":
    return _user(
        "blocked@example.com",
        is_active=False,
        blocked_at=timezone.now(),
        blocked_by=manager,
        block_reason="spam",
    )


@pytest.fixture(autouse=True)
def _shared_state_is_fresh(request: pytest.FixtureRequest, settings: Settings) -> Iterator[None]:
    """Redis (cache and RQ queues) outlives a test's transaction: start and end each test empty.

    So does the database cache table when a test commits (pytest-django flushes the models' tables only): a
    committing test starts with it empty, or an earlier test's rate counts would refuse its requests silently.
    """
    from django.core.cache import cache

    if settings.REDIS_URL:
        from tests.support import clear_tasks

        cache.clear()
        clear_tasks()
    elif {"transactional_db", "live_server"} & set(request.fixturenames):
        request.getfixturevalue("transactional_db")
        cache.clear()
    yield


@pytest.fixture
def smtp_server(settings: Settings) -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1; Django's email settings point at it."""
    server = SmtpServer().start()
    # Django's test set-up swaps in the locmem backend; this fixture is about the real thing.
    settings.EMAIL_BACKEND = "mailings.delivery.mail_backend.EmailBackend"
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
