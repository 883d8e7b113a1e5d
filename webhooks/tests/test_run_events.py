"""run.finished and delivery.failed after a real run: real SMTP server, real task queue, real HTTP server."""

from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook

from mailings.tests.sending_support import fast_settings, make_run
from tests.support import SmtpServer, run_tasks
from users.models import User
from webhooks.models import WebhookMessage
from webhooks.services import endpoint_create
from webhooks.tests.support import HookServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    fast_settings(settings, port=server.port)
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.WEBHOOKS_RETRY_SCHEDULE = [0]
    settings.SITE_URL = "https://vestnik.example.com"
    try:
        yield server
    finally:
        server.stop()


def _payloads(hooks: HookServer, secret: str) -> list[dict[str, Any]]:
    return [Webhook(secret).verify(r.body, r.headers) for r in hooks.received]


def test_run_finished_arrives_signed_with_counts_and_links(owner: User, smtp: SmtpServer) -> None:
    smtp.handler.on_rcpt = lambda a: "550 5.1.1 User unknown" if a.startswith("b@") else None
    with HookServer() as hooks:
        endpoint = endpoint_create(owner_id=owner.pk, url=hooks.url(), description="", events=["run.finished"])
        mailing, attempt = make_run(owner)
        run_tasks()

    runs = _payloads(hooks, endpoint.secret)
    assert len(runs) == 1 and runs[0]["data"]["attempt_id"] == attempt.pk
    data = runs[0]["data"]
    assert runs[0]["type"] == "run.finished"
    assert data["status"] == "failure" and data["mailing_id"] == mailing.pk
    assert data["counts"] == {"total": 3, "delivered": 2, "failed": 1, "unknown": 0, "skipped": 0}
    assert data["links"]["attempt"] == f"https://vestnik.example.com/attempts/{attempt.pk}/"
    assert data["links"]["retry_failed"] == f"https://vestnik.example.com/attempts/{attempt.pk}/#retry"
    assert data["subject"] == "Новости недели"


def test_delivery_failed_comes_once_per_failed_recipient(owner: User, smtp: SmtpServer) -> None:
    smtp.handler.on_rcpt = lambda a: "550 5.1.1 User unknown" if a[0] in "bc" else None
    with HookServer() as hooks:
        endpoint = endpoint_create(owner_id=owner.pk, url=hooks.url(), description="", events=["delivery.failed"])
        _mailing, attempt = make_run(owner, ["a@example.com", "b@example.com", "c@example.com"])
        run_tasks()

    payloads = _payloads(hooks, endpoint.secret)
    assert sorted(p["data"]["email"] for p in payloads) == ["b@example.com", "c@example.com"]
    for p in payloads:
        assert p["type"] == "delivery.failed"
        assert p["data"]["attempt_id"] == attempt.pk
        assert p["data"]["smtp_code"] == 550
        assert p["data"]["smtp_reply"] == "550 5.1.1 User unknown"
        assert p["data"]["reason"] == "permanent"
        assert p["data"]["recipient_id"]
    assert WebhookMessage.objects.filter(event="delivery.failed").count() == 2


def test_an_owner_without_endpoints_gets_no_outbox_rows(owner: User, smtp: SmtpServer) -> None:
    smtp.handler.on_rcpt = lambda a: "550 5.1.1 User unknown"
    make_run(owner)
    run_tasks()

    assert WebhookMessage.objects.count() == 0
