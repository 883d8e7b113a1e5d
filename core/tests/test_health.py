import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from mailings.delivery.reasons import reason
from mailings.delivery.schedule import LAST_TICK_CACHE_KEY as SCHEDULER_TICK_KEY


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_it_is_healthy_when_every_part_answers_and_the_scheduler_ticked(client: Client) -> None:
    cache.set(SCHEDULER_TICK_KEY, timezone.now().isoformat())
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "queue", "scheduler", "smtp"}
    assert body["checks"]["queue"]["depth"] == 0
    assert body["checks"]["scheduler"]["age_seconds"] < 5


@pytest.mark.django_db
def test_it_answers_503_when_the_scheduler_is_silent(client: Client) -> None:
    cache.set(SCHEDULER_TICK_KEY, (timezone.now() - timedelta(minutes=5)).isoformat())
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["scheduler"]["ok"] is False


@pytest.mark.django_db
def test_it_counts_queued_tasks(
    client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    from mailings.delivery.tasks import deliver_attempt

    deliver_attempt.enqueue(12345)
    cache.set(SCHEDULER_TICK_KEY, timezone.now().isoformat())
    assert client.get("/health/").json()["checks"]["queue"]["depth"] == 1
    from tests.support import clear_tasks

    clear_tasks()


@pytest.mark.django_db
def test_it_reveals_no_secret(client: Client, settings: Settings) -> None:
    settings.EMAIL_HOST_PASSWORD = "smtp-password-value"
    text = json.dumps(client.get("/health/").json())
    assert settings.SECRET_KEY not in text
    assert "smtp-password-value" not in text


@pytest.mark.django_db
def test_it_refuses_post(client: Client) -> None:
    assert client.post("/health/").status_code == 405


@pytest.mark.django_db
def test_it_reports_an_open_breaker_without_failing(client: Client) -> None:
    from mailings.delivery.breaker import breaker_open
    from mailings.delivery.engine import smtp_config

    cache.set(SCHEDULER_TICK_KEY, timezone.now().isoformat())
    breaker_open(
        account=smtp_config().account,
        reason=reason("connection_refused", error="connection refused"),
        now=timezone.now(),
    )
    response = client.get("/health/")
    assert response.status_code == 200
    smtp = response.json()["checks"]["smtp"]
    assert smtp["breaker"] == "open"
    assert smtp["next_probe_at"] is not None
    assert smtp["paused_seconds"] > 0


class _EveryProbeSetsBeforeAnyReads:
    """The cache, with the interleaving that made concurrent probes fail: every probe writes, then all read."""

    def __init__(self, inner: object, probes: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(probes)

    def set(self, *args: object, **kwargs: object) -> None:
        self.inner.set(*args, **kwargs)  # type: ignore[attr-defined]
        self.barrier.wait(timeout=30)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.mark.django_db
def test_concurrent_probes_all_find_the_cache_healthy(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    from django.core.cache import caches

    from core import health

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    probes = 6
    monkeypatch.setattr(health, "cache", _EveryProbeSetsBeforeAnyReads(caches["default"], probes))
    with ThreadPoolExecutor(max_workers=probes) as pool:
        results = list(pool.map(lambda _: health._check_cache(), range(probes)))
    assert [result["ok"] for result in results] == [True] * probes


@pytest.mark.django_db
def test_it_counts_owners_paused_accounts_apart_from_the_service_account(client: Client) -> None:
    from mailings.delivery.breaker import breaker_open

    cache.set(SCHEDULER_TICK_KEY, timezone.now().isoformat())
    breaker_open(account="acct:41", reason=reason("auth_failed"), now=timezone.now())
    smtp = client.get("/health/").json()["checks"]["smtp"]
    assert smtp["ok"] is True
    assert smtp["breaker"] == "closed" and smtp["owner_accounts_paused"] == 1
