"""The delivery engine in the task queue: the task, every enqueue, and every write of `Attempt.wake_at`.

`wake_at` is the scheduler's "do not wake this run before" mark (recovery.py wakes runs whose deliveries
are due and whose mark has passed). It is written here only: pushed ahead when a task is enqueued and
while one works, cleared when a task stops with nothing left to do now, and advanced by the scheduler's
conditional UPDATE so that one scheduler wakes a run once.

The engine (engine.py) never imports this module: a task run returns why it stopped, and
`delivery_run` decides from that whether to enqueue the rest.
"""

import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from mailings.delivery.engine import BATCH_SIZE_FIRST, StopReason, attempt_deliver
from mailings.delivery.stopping import Stop, graceful_sigterm
from mailings.models import Attempt

logger = logging.getLogger(__name__)


@task(queue_name="mail")
def deliver_attempt(attempt_id: int) -> None:
    """Send the deliveries of one attempt that are due (one bounded task run; see `delivery_run`)."""
    delivery_run(attempt_id=attempt_id)


@task(queue_name="mail")
def send_test_message(message_id: int, user_id: int) -> None:
    """One test send of a message to its owner (trial.py); no attempt, no statistics."""
    from mailings.delivery.trial import trial_send

    trial_send(message_id=message_id, user_id=user_id)


def delivery_run(*, attempt_id: int, max_seconds: float | None = None) -> str:
    """One task run of the engine with SIGTERM handled, then what its verdict asks for; returns the verdict.

    A run stopped with work remaining (time budget, SIGTERM) is enqueued again; one that stopped because
    nothing is due now (a back-off, the breaker, a limit, outside its send window) lets the scheduler wake it
    once it is due.
    A SIGTERM with the default action terminates the process only after that (`Stop.deliver_default`).
    """
    stop: Stop | None = None
    try:
        with graceful_sigterm() as stop:
            verdict = attempt_deliver(
                attempt_id=attempt_id, max_seconds=max_seconds, stop=stop, keep_awake=attempt_keep_awake
            )
            if verdict in (StopReason.BUDGET, StopReason.STOPPED):
                enqueue_attempt_delivery(attempt_id=attempt_id, count=1)
            elif verdict in (StopReason.PAUSED, StopReason.LIMITED, StopReason.IDLE, StopReason.WINDOW):
                attempt_wake_when_due(attempt_id=attempt_id)
    finally:
        if stop is not None:
            stop.deliver_default()
    return verdict


def tasks_for(*, total: int) -> int:
    """How many delivery tasks to enqueue for a new run of `total` recipients."""
    per_attempt = max(1, int(settings.SEND_TASKS_PER_ATTEMPT))
    first_claim = max(1, min(int(settings.SEND_BATCH_SIZE), BATCH_SIZE_FIRST))
    return max(1, min(per_attempt, math.ceil(total / first_claim)))


def enqueue_attempt_delivery(*, attempt_id: int, count: int | None = None) -> None:
    """Enqueue delivery tasks for an attempt.

    Without `count` (a new run) up to SEND_TASKS_PER_ATTEMPT tasks, so that several idle workers
    share a large run from the start; their claims never overlap.
    """
    if count is None:
        total = Attempt.objects.filter(pk=attempt_id).values_list("total_count", flat=True).first() or 0
        count = tasks_for(total=total)
    # A task is on its way: the scheduler need not wake this attempt again for a while.
    attempt_keep_awake(attempt_id=attempt_id, now=timezone.now())
    try:
        for _n in range(count):
            deliver_attempt.enqueue(attempt_id)
    except Exception:
        # The queue is away (Redis down): the run exists and wake_at is set, so the scheduler
        # enqueues it again later. The caller (a web request's on_commit, the sweep) must not fail.
        logger.exception("could not enqueue delivery: attempt=%s", attempt_id)


def attempt_keep_awake(*, attempt_id: int, now: datetime) -> None:
    """A task is on its way or working on the attempt: the scheduler leaves it alone for a while."""
    Attempt.objects.filter(pk=attempt_id).update(wake_at=now + timedelta(seconds=int(settings.SEND_WAKE_INTERVAL)))


def attempt_wake_when_due(*, attempt_id: int) -> None:
    """No task works on the attempt now: the scheduler wakes it as soon as deliveries are due again."""
    Attempt.objects.filter(pk=attempt_id).update(wake_at=None)


def attempt_wake_claim(*, attempt_id: int, now: datetime) -> bool:
    """The scheduler's compare-and-set: True for the one caller that may wake the attempt now."""
    wakeable = Q(wake_at__isnull=True) | Q(wake_at__lte=now)
    interval = timedelta(seconds=int(settings.SEND_WAKE_INTERVAL))
    return bool(Attempt.objects.filter(wakeable, pk=attempt_id).update(wake_at=now + interval))
