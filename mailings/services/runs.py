"""Starting a run of a mailing: one Attempt and a Delivery per recipient (ARCHITECTURE.md, step 2 and 5)."""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from mailings.cache import data_version_bump
from mailings.models import Attempt, Delivery, Mailing

logger = logging.getLogger(__name__)


def attempt_start(
    *,
    mailing: Mailing,
    trigger: str,
    scheduled_for: datetime | None = None,
    recipient_ids: Iterable[int] | None = None,
    retry_of: Attempt | None = None,
) -> Attempt:
    """Create the attempt and snapshot its recipients into Delivery rows, then enqueue sending.

    The caller has already decided that the run may start (schedule slot won,
    owner allowed to send). The delivery task is enqueued only after the
    transaction commits, so a worker never looks for rows it cannot see yet.
    With `recipient_ids`, only those of the mailing's recipients are included.
    """
    from mailings.tasks import enqueue_attempt_delivery

    with transaction.atomic():
        attempt = Attempt.objects.create(
            mailing=mailing,
            trigger=trigger,
            scheduled_for=scheduled_for,
            retry_of=retry_of,
            started_at=timezone.now(),
        )
        recipients = mailing.recipients.all().only("pk", "email", "full_name").order_by("pk")
        if recipient_ids is not None:
            recipients = recipients.filter(pk__in=list(recipient_ids))
        deliveries = [
            Delivery(attempt=attempt, recipient=r, email=r.email, full_name=r.full_name) for r in recipients.iterator()
        ]
        Delivery.objects.bulk_create(deliveries, batch_size=1000)
        attempt.total_count = len(deliveries)
        attempt.save(update_fields=["total_count"])
        transaction.on_commit(lambda: enqueue_attempt_delivery(attempt_id=attempt.pk))
        data_version_bump(owner_id=mailing.owner_id)
    logger.info(
        "run started: mailing=%s attempt=%s trigger=%s recipients=%s",
        mailing.pk,
        attempt.pk,
        trigger,
        attempt.total_count,
    )
    return attempt
