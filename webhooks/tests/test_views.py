"""The endpoint pages: the owner's writes, the form's refusals in both languages, what a manager sees."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from users.models import User
from webhooks.models import WebhookEndpoint, WebhookMessage, WebhookRequest
from webhooks.selectors import endpoints_subscribed
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(owner: User) -> WebhookEndpoint:
    return endpoint_create(
        owner_id=owner.pk, url="https://shop.example.com/hooks", description="Магазин", events=["run.finished"]
    )


def _client(user: User, language: str = "ru") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def test_the_owner_adds_an_endpoint_and_sees_its_secret(owner: User) -> None:
    client = _client(owner)
    response = client.post(
        reverse("webhooks:endpoint_create"),
        {"url": "https://crm.example.org/vestnik", "description": "CRM", "events": ["delivery.failed", "run.finished"]},
    )

    endpoint = WebhookEndpoint.objects.get(owner=owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("webhooks:endpoint_detail", args=[endpoint.pk])
    assert endpoint.events == ["run.finished", "delivery.failed"]
    assert endpoint.secret.startswith("whsec_") and endpoint.is_enabled
    page = client.get(response["Location"]).content.decode()
    assert endpoint.secret in page
    assert "Журнал доставки" in page
    # The emitter sees the new endpoint at once (the cached list was dropped).
    assert endpoints_subscribed(owner_id=owner.pk, event="delivery.failed") == [endpoint.pk]


@pytest.mark.parametrize(
    ("language", "url", "error"),
    [
        ("ru", "ftp://example.com/x", "Адрес должен начинаться с http:// или https://."),
        ("en", "ftp://example.com/x", "The address must start with http:// or https://."),
        ("ru", "http://127.0.0.1:8080/hook", "Адреса внутренней сети"),
        ("en", "http://localhost/hook", "Internal network addresses"),
        ("en", "http://[::1]/hook", "Internal network addresses"),
        ("ru", "https://user:pw@example.com/", "Логин и пароль в адресе не поддерживаются"),
    ],
)
def test_the_form_refuses_bad_addresses_in_the_readers_language(
    owner: User, language: str, url: str, error: str
) -> None:
    response = _client(owner, language).post(
        reverse("webhooks:endpoint_create"), {"url": url, "description": "", "events": ["run.finished"]}
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_no_event_chosen_is_a_form_error(owner: User) -> None:
    response = _client(owner, "en").post(
        reverse("webhooks:endpoint_create"), {"url": "https://example.com/", "description": ""}
    )
    assert "Choose at least one event." in response.content.decode()


def test_private_addresses_are_accepted_when_allowed(owner: User, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    _client(owner).post(
        reverse("webhooks:endpoint_create"), {"url": "http://127.0.0.1:9/x", "events": ["run.finished"]}
    )
    assert WebhookEndpoint.objects.filter(owner=owner).count() == 1


def test_rotating_the_secret_replaces_it(owner: User, endpoint: WebhookEndpoint) -> None:
    old = endpoint.secret
    response = _client(owner).post(reverse("webhooks:endpoint_rotate_secret", args=[endpoint.pk]))

    endpoint.refresh_from_db()
    assert response.status_code == 302
    assert endpoint.secret != old and endpoint.secret.startswith("whsec_")


def test_disable_and_enable_change_what_the_emitter_sees(owner: User, endpoint: WebhookEndpoint) -> None:
    client = _client(owner)
    assert endpoints_subscribed(owner_id=owner.pk, event="run.finished") == [endpoint.pk]

    client.post(reverse("webhooks:endpoint_disable", args=[endpoint.pk]))
    assert endpoints_subscribed(owner_id=owner.pk, event="run.finished") == []
    assert (
        'id="endpoint-disabled"' in client.get(reverse("webhooks:endpoint_detail", args=[endpoint.pk])).content.decode()
    )

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=5)
    client.post(reverse("webhooks:endpoint_enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.is_enabled and endpoint.consecutive_failures == 0
    assert endpoints_subscribed(owner_id=owner.pk, event="run.finished") == [endpoint.pk]


def test_the_log_shows_event_try_status_excerpt_duration_and_next_retry(owner: User, endpoint: WebhookEndpoint) -> None:
    from django.utils import timezone

    message = WebhookMessage.objects.create(endpoint=endpoint, msg_id="msg_1", event="run.finished", body="{}")
    WebhookRequest.objects.create(
        endpoint=endpoint,
        message=message,
        number=2,
        at=timezone.now(),
        status_code=502,
        response_excerpt="Bad gateway <b>",
        duration_ms=321,
        next_retry_at=timezone.now(),
    )
    WebhookRequest.objects.create(
        endpoint=endpoint, message=message, number=3, at=timezone.now(), error="timeout", duration_ms=10000
    )

    page = _client(owner, "en").get(reverse("webhooks:endpoint_detail", args=[endpoint.pk])).content.decode()

    assert "HTTP 502" in page and "Bad gateway &lt;b&gt;" in page and "321 ms" in page
    assert "the server did not answer in time" in page
    assert "msg_1" in page and "run.finished" in page


def test_a_manager_reads_the_endpoint_without_its_secret(manager: User, endpoint: WebhookEndpoint) -> None:
    client = _client(manager)
    page = client.get(reverse("webhooks:endpoint_detail", args=[endpoint.pk])).content.decode()
    assert endpoint.url in page and endpoint.secret not in page
    assert "виден только владельцу" in page
    listing = client.get(reverse("webhooks:endpoint_list")).content.decode()
    assert "owner@example.com" in listing
    assert client.post(reverse("webhooks:endpoint_rotate_secret", args=[endpoint.pk])).status_code == 403


def test_another_owner_gets_404(other_user: User, endpoint: WebhookEndpoint) -> None:
    client = _client(other_user)
    assert client.get(reverse("webhooks:endpoint_detail", args=[endpoint.pk])).status_code == 404
    assert client.post(reverse("webhooks:endpoint_delete", args=[endpoint.pk])).status_code == 404
    assert endpoint.url not in client.get(reverse("webhooks:endpoint_list")).content.decode()


def test_deleting_removes_the_endpoint(owner: User, endpoint: WebhookEndpoint) -> None:
    response = _client(owner).post(reverse("webhooks:endpoint_delete", args=[endpoint.pk]))
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert endpoints_subscribed(owner_id=owner.pk, event="run.finished") == []


def test_old_messages_and_their_log_are_pruned(endpoint: WebhookEndpoint, settings: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from webhooks.tasks import webhook_messages_prune

    settings.WEBHOOKS_LOG_DAYS = 30
    now = timezone.now()
    states = {"old-done": "delivered", "old-failed": "failed", "old-waiting": "pending", "new-done": "delivered"}
    for msg_id, state in states.items():
        message = WebhookMessage.objects.create(endpoint=endpoint, msg_id=msg_id, event="run.finished", body="{}")
        WebhookRequest.objects.create(endpoint=endpoint, message=message, number=1, at=now, status_code=200)
        age = timedelta(days=31) if msg_id.startswith("old") else timedelta(days=1)
        WebhookMessage.objects.filter(pk=message.pk).update(state=state, created_at=now - age)

    webhook_messages_prune(now=now)

    assert sorted(WebhookMessage.objects.values_list("msg_id", flat=True)) == ["new-done", "old-waiting"]
    assert WebhookRequest.objects.count() == 2


def test_an_owner_may_have_only_so_many_endpoints(owner: User, endpoint: WebhookEndpoint, settings: Any) -> None:
    settings.WEBHOOKS_MAX_ENDPOINTS = 1
    response = _client(owner, "en").post(
        reverse("webhooks:endpoint_create"), {"url": "https://two.example.com/", "events": ["run.finished"]}
    )
    assert response.status_code == 200
    assert "You can add at most 1 endpoints" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 1
    # Editing the one there is stays possible.
    response = _client(owner).post(
        reverse("webhooks:endpoint_update", args=[endpoint.pk]),
        {"url": "https://one.example.com/", "events": ["run.finished"]},
    )
    assert response.status_code == 302
