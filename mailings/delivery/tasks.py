"""Background tasks (django.tasks API). Arguments are JSON-serialisable ids."""

import logging

from django_tasks import task

logger = logging.getLogger(__name__)


@task(queue_name="mail")
def deliver_attempt(attempt_id: int) -> None:
    """Send the deliveries of one attempt that are due (the delivery engine).

    Each run is bounded (SEND_TASK_MAX_SECONDS, or the message in hand on SIGTERM) and
    re-enqueues itself while work remains.
    """
    from mailings.delivery.engine import attempt_deliver

    attempt_deliver(attempt_id=attempt_id)


def enqueue_attempt_delivery(*, attempt_id: int, count: int | None = None) -> None:
    """Enqueue delivery tasks for an attempt.

    Without `count` (a new run) up to SEND_TASKS_PER_ATTEMPT tasks, so that several idle workers
    share a large run from the start; their claims never overlap.
    """
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from mailings.models import Attempt

    if count is None:
        from mailings.delivery.recovery import tasks_for

        total = Attempt.objects.filter(pk=attempt_id).values_list("total_count", flat=True).first() or 0
        count = tasks_for(total=total)
    # A task is on its way: the scheduler need not wake this attempt again for a while.
    Attempt.objects.filter(pk=attempt_id).update(
        wake_at=timezone.now() + timedelta(seconds=int(settings.SEND_WAKE_INTERVAL))
    )
    try:
        for _n in range(count):
            deliver_attempt.enqueue(attempt_id)
    except Exception:
        # The queue is away (Redis down): the run exists and wake_at is set, so the scheduler
        # enqueues it again later. The caller (a web request's on_commit, the sweep) must not fail.
        logger.exception("could not enqueue delivery: attempt=%s", attempt_id)
