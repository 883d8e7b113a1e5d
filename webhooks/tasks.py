"""Webhook sending in the task queue (queue `default`, like the other account-side tasks).

A task sends the messages it is given, one try each; a message to retry is enqueued again for its time. If a
task is lost (the queue was away, a worker was killed outright), the scheduler's `webhook_messages_wake`
finds the message overdue and enqueues it again; the claim in sending.py keeps a message from going twice.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from webhooks.models import WebhookMessage
from webhooks.sending import message_send

logger = logging.getLogger(__name__)

# A pending message this late (its task should have run long ago) or a lease this old is woken again.
WAKE_AFTER = timedelta(minutes=5)


@task(queue_name="default")
def send_webhook_messages(message_ids: list[int]) -> None:
    """One try of each message (those not due or held by another worker are left alone)."""
    failed_endpoints: dict[int, datetime] = {}
    deferred: dict[datetime, list[int]] = {}
    endpoint_of = dict(WebhookMessage.objects.filter(pk__in=message_ids).values_list("pk", "endpoint_id"))
    for message_id in message_ids:
        endpoint_id = endpoint_of.get(message_id)
        if endpoint_id is None:
            continue
        if endpoint_id in failed_endpoints:
            # The endpoint failed a moment ago in this run: the rest wait for the same retry without a try
            # (a dead endpoint would otherwise cost a timeout per message of a large batch).
            at = failed_endpoints[endpoint_id]
            if message_defer(message_id=message_id, until=at):
                deferred.setdefault(at, []).append(message_id)
            continue
        retry_at = message_send(message_id=message_id)
        if retry_at is not None:
            failed_endpoints[endpoint_id] = retry_at
            enqueue_messages(message_ids=[message_id], at=retry_at)
    for at, ids in deferred.items():
        enqueue_messages(message_ids=ids, at=at)


def message_defer(*, message_id: int, until: datetime) -> bool:
    """Move a pending message to `until` without a try; False if it is not pending (sent, held, given up)."""
    return bool(
        WebhookMessage.objects.filter(pk=message_id, state=WebhookMessage.State.PENDING).update(next_try_at=until)
    )


def enqueue_messages(*, message_ids: list[int], at: datetime | None = None) -> None:
    """Enqueue one task for the messages, now or at `at`; a queue that is away is left to the scheduler's wake."""
    if not message_ids:
        return
    try:
        if at is not None and at > timezone.now():
            send_webhook_messages.using(run_after=at).enqueue(message_ids)
        else:
            send_webhook_messages.enqueue(message_ids)
    except Exception:
        logger.exception("could not enqueue webhook messages: %s", message_ids[:20])


def webhook_messages_wake(*, now: datetime) -> int:
    """The scheduler's tick: enqueue again the messages whose task is overdue or whose lease expired.

    Each is first moved to `now` with a conditional UPDATE so that the next ticks leave it alone for WAKE_AFTER.
    """
    State = WebhookMessage.State
    WebhookMessage.objects.filter(state=State.SENDING, lease_until__lt=now).update(
        state=State.PENDING, lease_until=None, next_try_at=now - WAKE_AFTER
    )
    overdue = list(
        WebhookMessage.objects.filter(state=State.PENDING, next_try_at__lte=now - WAKE_AFTER).values_list(
            "pk", "next_try_at"
        )[:500]
    )
    woken = [
        pk
        for pk, at in overdue
        if WebhookMessage.objects.filter(Q(next_try_at=at), pk=pk, state=State.PENDING).update(next_try_at=now)
    ]
    if woken:
        logger.warning("webhook messages woken (their task was lost): %s", len(woken))
        enqueue_messages(message_ids=woken)
    return len(woken)


def webhook_messages_prune(*, now: datetime) -> int:
    """Forget delivered and failed messages (and their log) older than WEBHOOKS_LOG_DAYS; returns how many went."""
    State = WebhookMessage.State
    cutoff = now - timedelta(days=int(settings.WEBHOOKS_LOG_DAYS))
    old = WebhookMessage.objects.filter(state__in=[State.DELIVERED, State.FAILED], created_at__lt=cutoff)
    deleted, _per_model = old.delete()
    return int(deleted)
