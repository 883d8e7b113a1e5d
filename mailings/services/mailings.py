"""Writes of mailings (Рассылки): create, update, delete; the first due time comes from the scheduler's calendar."""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from mailings.models import Attempt, Mailing, Message, Recipient
from mailings.services.scheduling import mailing_initial_next_run
from users.models import User

logger = logging.getLogger(__name__)


@transaction.atomic
def mailing_create(
    *,
    owner: User,
    message: Message,
    recipients: Iterable[Recipient],
    start_at: datetime,
    end_at: datetime,
    periodicity: str = Mailing.Periodicity.ONCE,
) -> Mailing:
    """Create a mailing; one whose window is already open is due at once (the scheduler picks it up)."""
    mailing = Mailing(
        owner=owner,
        message=message,
        start_at=start_at,
        end_at=end_at,
        periodicity=periodicity,
        status=Mailing.Status.CREATED,
    )
    mailing.next_run_at = mailing_initial_next_run(mailing=mailing, now=timezone.now())
    mailing.full_clean(exclude=["owner", "message", "recipients"])
    mailing.save()
    mailing.recipients.set(recipients)
    logger.info("mailing created: owner=%s mailing=%s next_run_at=%s", owner.pk, mailing.pk, mailing.next_run_at)
    return mailing


def mailing_has_run_on_schedule(*, mailing: Mailing) -> bool:
    """Whether the scheduler has made a real run (a skipped slot does not count)."""
    return mailing.attempts.filter(trigger=Attempt.Trigger.SCHEDULE).exclude(status=Attempt.Status.SKIPPED).exists()


@transaction.atomic
def mailing_update(
    *,
    mailing: Mailing,
    message: Message,
    recipients: Iterable[Recipient],
    start_at: datetime,
    end_at: datetime,
    periodicity: str,
) -> Mailing:
    """Change a mailing's content and schedule.

    A mailing that never ran on schedule is rescheduled from scratch when its
    window or periodicity changes. Once it has run, the scheduler owns
    `next_run_at`; only an end moved into the past clears it.
    """
    now = timezone.now()
    schedule_changed = mailing.start_at != start_at or mailing.end_at != end_at or mailing.periodicity != periodicity
    mailing.message = message
    mailing.start_at = start_at
    mailing.end_at = end_at
    mailing.periodicity = periodicity
    if schedule_changed:
        if not mailing_has_run_on_schedule(mailing=mailing):
            mailing.next_run_at = mailing_initial_next_run(mailing=mailing, now=now)
        elif end_at <= now:
            mailing.next_run_at = None
    mailing.full_clean(exclude=["owner", "message", "recipients", "disabled_by"])
    mailing.save()
    mailing.recipients.set(recipients)
    logger.info(
        "mailing updated: mailing=%s schedule_changed=%s next_run_at=%s",
        mailing.pk,
        schedule_changed,
        mailing.next_run_at,
    )
    return mailing


def mailing_delete(*, mailing: Mailing) -> None:
    """Delete the mailing with its attempts and deliveries."""
    pk = mailing.pk
    mailing.delete()
    logger.info("mailing deleted: mailing=%s", pk)
