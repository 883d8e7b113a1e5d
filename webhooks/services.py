"""Writes of webhooks: endpoints (the owner's pages) and events (`event_emit`, called by the rest of Vestnik)."""

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from webhooks.models import Event, WebhookEndpoint, WebhookMessage, secret_new
from webhooks.selectors import endpoints_cache_forget, endpoints_subscribed
from webhooks.tasks import enqueue_messages

logger = logging.getLogger(__name__)


def _message_body(*, event: str, data: dict[str, Any], at: str) -> str:
    # The Standard Webhooks payload shape: type, timestamp, data.
    return json.dumps({"type": event, "timestamp": at, "data": data}, ensure_ascii=False, separators=(",", ":"))


def events_emit(*, owner_id: int, event: str, items: Sequence[dict[str, Any]]) -> int:
    """One outbox message per (subscribed endpoint, item), in the caller's transaction; the send is enqueued
    when it commits (never from here: this may run in a web request). Returns how many messages were written."""
    event = str(event)
    if event not in Event.values:
        raise ValueError(f"unknown webhook event: {event}")
    if not items:
        return 0
    endpoint_ids = endpoints_subscribed(owner_id=owner_id, event=event)
    if not endpoint_ids:
        return 0
    now = timezone.now()
    at = now.isoformat().replace("+00:00", "Z")
    bodies = [_message_body(event=event, data=dict(item), at=at) for item in items]
    created = WebhookMessage.objects.bulk_create(
        [
            WebhookMessage(
                endpoint_id=endpoint_id, msg_id=f"msg_{uuid.uuid4().hex}", event=event, body=body, next_try_at=now
            )
            for endpoint_id in endpoint_ids
            for body in bodies
        ]
    )
    ids = [m.pk for m in created]
    transaction.on_commit(lambda: enqueue_messages(message_ids=ids))
    return len(ids)


def event_emit(*, owner_id: int, event: str, data: dict[str, Any]) -> None:
    """Record `event` with `data` for every endpoint of the owner that chose it (see `events_emit`)."""
    events_emit(owner_id=owner_id, event=event, items=[data])


# --- the owner's endpoints -----------------------------------------------------------------------------------


def endpoint_create(*, owner_id: int, url: str, description: str, events: list[str]) -> WebhookEndpoint:
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(owner_id=owner_id, url=url, description=description, events=events)
        endpoints_cache_forget(owner_id=owner_id)
    return endpoint


def endpoint_update(*, endpoint: WebhookEndpoint, url: str, description: str, events: list[str]) -> None:
    endpoint.url = url
    endpoint.description = description
    endpoint.events = events
    with transaction.atomic():
        endpoint.save(update_fields=["url", "description", "events"])
        endpoints_cache_forget(owner_id=endpoint.owner_id)


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    with transaction.atomic():
        endpoint.delete()
        endpoints_cache_forget(owner_id=endpoint.owner_id)


def endpoint_enable(*, endpoint: WebhookEndpoint) -> None:
    """The owner turns it on again: the failure count starts afresh."""
    endpoint.is_enabled = True
    endpoint.disabled_automatically_at = None
    endpoint.consecutive_failures = 0
    with transaction.atomic():
        endpoint.save(update_fields=["is_enabled", "disabled_automatically_at", "consecutive_failures"])
        endpoints_cache_forget(owner_id=endpoint.owner_id)


def endpoint_disable(*, endpoint: WebhookEndpoint) -> None:
    """The owner turns it off: no new messages; those waiting for a retry end failed when their turn comes."""
    endpoint.is_enabled = False
    with transaction.atomic():
        endpoint.save(update_fields=["is_enabled"])
        endpoints_cache_forget(owner_id=endpoint.owner_id)


def endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> None:
    """A new secret at once: messages signed from now on (retries too) use it."""
    endpoint.secret = secret_new()
    endpoint.save(update_fields=["secret"])
