"""Webhooks delivered to a real HTTP server on 127.0.0.1: signatures, retries, disabling, refused addresses."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from standardwebhooks import Webhook

from tests.support import SmtpServer, run_tasks
from users.models import User
from webhooks import outbound
from webhooks.models import WebhookEndpoint, WebhookMessage, WebhookRequest
from webhooks.services import endpoint_create, event_emit
from webhooks.tasks import webhook_messages_wake
from webhooks.tests.support import HookServer

pytestmark = pytest.mark.django_db(transaction=True)

State = WebhookMessage.State


@pytest.fixture(autouse=True)
def _fast(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.WEBHOOKS_RETRY_SCHEDULE = [0, 0]
    settings.WEBHOOKS_TIMEOUT = 2.0
    settings.WEBHOOKS_DISABLE_AFTER = 2


@pytest.fixture
def hooks() -> Iterator[HookServer]:
    with HookServer() as server:
        yield server


def _endpoint(owner: User, url: str, events: list[str] | None = None) -> WebhookEndpoint:
    return endpoint_create(
        owner_id=owner.pk, url=url, description="Магазин", events=events or ["run.finished", "delivery.failed"]
    )


def test_a_signed_message_verifies_with_the_standard_webhooks_library(owner: User, hooks: HookServer) -> None:
    endpoint = _endpoint(owner, hooks.url())

    event_emit(owner_id=owner.pk, event="run.finished", data={"attempt_id": 7, "note": "Привет"})
    run_tasks()

    assert len(hooks.received) == 1
    got = hooks.received[0]
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    assert payload["type"] == "run.finished"
    assert payload["data"] == {"attempt_id": 7, "note": "Привет"}
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["Content-Type"] == "application/json"
    assert got.path == "/hook"
    # Another secret does not verify it.
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB").verify(got.body, got.headers)
    message = WebhookMessage.objects.get()
    assert (message.state, message.tries) == (State.DELIVERED, 1)
    log = WebhookRequest.objects.get()
    assert (log.number, log.status_code, log.next_retry_at) == (1, 200, None)
    assert log.response_excerpt == "answer 1: 200"


def test_only_subscribed_enabled_endpoints_get_a_message(owner: User, other_user: User, hooks: HookServer) -> None:
    _endpoint(owner, hooks.url("/runs"), events=["run.finished"])
    _endpoint(owner, hooks.url("/failures"), events=["delivery.failed"])
    _endpoint(other_user, hooks.url("/other"), events=["run.finished"])
    off = _endpoint(owner, hooks.url("/off"), events=["run.finished"])
    WebhookEndpoint.objects.filter(pk=off.pk).update(is_enabled=False)
    from webhooks.selectors import endpoints_cache_forget

    endpoints_cache_forget(owner_id=owner.pk)

    event_emit(owner_id=owner.pk, event="run.finished", data={})
    run_tasks()

    assert [r.path for r in hooks.received] == ["/runs"]


def test_a_500_is_retried_with_the_same_id_and_then_delivered(owner: User) -> None:
    with HookServer([500, 200]) as hooks:
        endpoint = _endpoint(owner, hooks.url())
        event_emit(owner_id=owner.pk, event="run.finished", data={"n": 1})
        run_tasks()

    assert len(hooks.received) == 2
    first, second = hooks.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    for got in hooks.received:
        Webhook(endpoint.secret).verify(got.body, got.headers)
    log = list(WebhookRequest.objects.order_by("number").values_list("number", "status_code"))
    assert log == [(1, 500), (2, 200)]
    assert WebhookRequest.objects.get(number=1).next_retry_at is not None
    message = WebhookMessage.objects.get()
    assert (message.state, message.tries) == (State.DELIVERED, 2)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.is_enabled


def test_repeated_failures_disable_the_endpoint_and_tell_the_owner(
    owner: User, smtp_server: SmtpServer, client: Any
) -> None:
    with HookServer([503]) as hooks:
        endpoint = _endpoint(owner, hooks.url())
        event_emit(owner_id=owner.pk, event="run.finished", data={"n": 1})
        run_tasks()
        endpoint.refresh_from_db()
        assert endpoint.is_enabled and endpoint.consecutive_failures == 1
        event_emit(owner_id=owner.pk, event="run.finished", data={"n": 2})
        run_tasks()
        # Disabled: a new event makes no message at all.
        event_emit(owner_id=owner.pk, event="run.finished", data={"n": 3})
        run_tasks()

    # Two messages × (the first try and two retries).
    assert len(hooks.received) == 6
    assert WebhookMessage.objects.filter(state=State.FAILED).count() == 2
    assert WebhookMessage.objects.count() == 2
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and endpoint.disabled_automatically_at is not None
    assert [m.rcpt_tos for m in smtp_server.messages] == [[owner.email]]
    notice = smtp_server.messages[0]
    assert "Вебхук отключён" in notice.subject
    assert hooks.url() in notice.text
    assert f"/webhooks/{endpoint.pk}/" in notice.text

    client.force_login(owner)
    page = client.get(reverse("webhooks:endpoint_detail", args=[endpoint.pk])).content.decode()
    assert 'id="endpoint-auto-disabled"' in page
    assert "HTTP 503" in page


def test_the_notice_is_in_the_owners_language(owner: User, smtp_server: SmtpServer, settings: Any) -> None:
    settings.WEBHOOKS_DISABLE_AFTER = 1
    User.objects.filter(pk=owner.pk).update(language="en")
    with HookServer([500]) as hooks:
        _endpoint(owner, hooks.url())
        event_emit(owner_id=owner.pk, event="run.finished", data={})
        run_tasks()

    assert "Webhook endpoint disabled" in smtp_server.messages[0].subject


@pytest.mark.parametrize(
    "host",
    ["10.0.0.1", "127.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "192.168.1.1", "100.64.0.1", "0.0.0.0"],
)
def test_non_global_addresses_are_refused(host: str, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(outbound.Refused) as refused:
        outbound.resolve_checked(host, 443)
    assert refused.value.code == "address_not_allowed"


def test_a_host_name_resolving_to_loopback_is_refused(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(outbound.Refused) as refused:
        outbound.resolve_checked("localhost", 80)
    assert refused.value.code == "address_not_allowed"


def test_a_global_address_is_allowed(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert [str(a) for a in outbound.resolve_checked("93.184.216.34", 443)] == ["93.184.216.34"]


def test_a_refused_address_is_never_contacted_and_is_logged(owner: User, hooks: HookServer, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    settings.WEBHOOKS_RETRY_SCHEDULE = []
    _endpoint(owner, hooks.url(host="localhost"))

    event_emit(owner_id=owner.pk, event="run.finished", data={})
    run_tasks()

    assert hooks.received == []
    log = WebhookRequest.objects.get()
    assert (log.status_code, log.error) == (None, "address_not_allowed")
    assert WebhookMessage.objects.get().state == State.FAILED


def test_the_connection_goes_to_the_checked_address_with_the_name_in_host(owner: User, hooks: HookServer) -> None:
    _endpoint(owner, hooks.url(host="localhost"))

    event_emit(owner_id=owner.pk, event="run.finished", data={})
    run_tasks()

    assert hooks.received[0].headers["Host"] == f"localhost:{hooks.port}"


def test_a_server_that_is_away_is_a_failed_try(owner: User, settings: Any) -> None:
    settings.WEBHOOKS_RETRY_SCHEDULE = []
    with HookServer() as hooks:
        url = hooks.url()
    _endpoint(owner, url)

    event_emit(owner_id=owner.pk, event="run.finished", data={})
    run_tasks()

    log = WebhookRequest.objects.get()
    assert log.error == "connection_failed" and log.status_code is None


def test_a_lost_task_is_woken_by_the_scheduler(owner: User, hooks: HookServer) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tests.support import clear_tasks

    endpoint = _endpoint(owner, hooks.url())
    event_emit(owner_id=owner.pk, event="run.finished", data={})
    clear_tasks()
    message = WebhookMessage.objects.get(endpoint=endpoint)
    now = timezone.now()

    assert webhook_messages_wake(now=now) == 0
    with time_machine.travel(now + timedelta(minutes=6)):
        assert webhook_messages_wake(now=timezone.now()) == 1
        assert webhook_messages_wake(now=timezone.now()) == 0
        run_tasks()

    message.refresh_from_db()
    assert message.state == State.DELIVERED and len(hooks.received) == 1
    assert json.loads(hooks.received[0].body)["type"] == "run.finished"


def _fake_dns(monkeypatch: pytest.MonkeyPatch, name: str, answers: list[list[str]]) -> list[str]:
    """`name` resolves to each list of `answers` in turn (the last repeats); other names resolve for real.

    A stand-in for a DNS server we cannot run here: it is what a rebinding attacker's server would answer.
    """
    import socket

    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != name:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        addresses = answers[min(len(asked), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_name_with_any_private_address_is_refused(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    _fake_dns(monkeypatch, "mixed.example", [["93.184.216.34", "10.0.0.5"]])

    with pytest.raises(outbound.Refused) as refused:
        outbound.resolve_checked("mixed.example", 443)
    assert refused.value.detail == "10.0.0.5"


def test_the_name_is_resolved_once_and_the_checked_address_is_used(
    owner: User, hooks: HookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first answer is the address that was checked; a second lookup would get one nobody listens on
    # (the server is bound to 127.0.0.1 only).
    asked = _fake_dns(monkeypatch, "rebind.example", [["127.0.0.1"], ["127.0.0.2"]])
    _endpoint(owner, hooks.url(host="rebind.example"))

    event_emit(owner_id=owner.pk, event="run.finished", data={})
    run_tasks()

    assert asked == ["rebind.example"]
    assert len(hooks.received) == 1
    assert hooks.received[0].headers["Host"] == f"rebind.example:{hooks.port}"
    assert WebhookMessage.objects.get().state == State.DELIVERED
