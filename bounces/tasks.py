"""The task queue side of bounce processing: one mailbox's poll, and the scheduler's enqueueing of due polls."""

import logging

from django.utils import timezone
from django_tasks import task

from bounces.polling import bounce_polls_due, mailbox_poll, service_mailbox_sync

logger = logging.getLogger(__name__)


@task(queue_name="default")
def poll_bounce_mailbox(mailbox_id: int) -> None:
    mailbox_poll(mailbox_id=mailbox_id)


def bounce_polls_enqueue() -> int:
    """Called by the scheduler every minute: enqueue a poll for every mailbox that is due; returns how many."""
    service_mailbox_sync()
    claimed = bounce_polls_due(now=timezone.now())
    for mailbox_id in claimed:
        poll_bounce_mailbox.enqueue(mailbox_id)
    if claimed:
        logger.info("bounce mailbox polls enqueued: %s", len(claimed))
    return len(claimed)
