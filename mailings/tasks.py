"""Background tasks (django.tasks API). Arguments are JSON-serialisable ids."""

import logging

from django_tasks import task

logger = logging.getLogger(__name__)


@task(queue_name="mail")
def deliver_attempt(attempt_id: int) -> None:
    """Send the deliveries of one attempt that are due (the delivery engine)."""
    from mailings.services.sending import attempt_deliver

    attempt_deliver(attempt_id=attempt_id)


def enqueue_attempt_delivery(*, attempt_id: int) -> None:
    deliver_attempt.enqueue(attempt_id)
