"""Writes of mailings (Рассылки): create, update, delete; the first due time comes from the scheduler's calendar.

Managers disable and enable mailings in moderation/services.py.
"""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.data_versions import data_version_bump
from mailings.delivery.schedule import mailing_initial_next_run, mailing_reschedule
from mailings.models import Mailing, Message, Recipient
from senders.models import SmtpAccount
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
    smtp_account: SmtpAccount | None = None,
) -> Mailing:
    """Create a mailing; one whose window is already open is due at once (the scheduler picks it up)."""
    mailing = Mailing(
        owner=owner,
        message=message,
        start_at=start_at,
        end_at=end_at,
        periodicity=periodicity,
        status=Mailing.Status.CREATED,
        smtp_account=smtp_account,
    )
    mailing.next_run_at = mailing_initial_next_run(mailing=mailing, now=timezone.now())
    mailing.full_clean(exclude=["owner", "message", "recipients", "smtp_account"])
    mailing.save()
    mailing.recipients.set(recipients)
    data_version_bump(owner_id=owner.pk)
    logger.info("mailing created: owner=%s mailing=%s next_run_at=%s", owner.pk, mailing.pk, mailing.next_run_at)
    return mailing


@transaction.atomic
def mailing_update(
    *,
    mailing: Mailing,
    message: Message,
    recipients: Iterable[Recipient],
    start_at: datetime,
    end_at: datetime,
    periodicity: str,
    smtp_account: SmtpAccount | None = None,
) -> Mailing:
    """Change a mailing's content, sender and schedule.

    Only a changed window or periodicity touches the schedule, and then the
    scheduler's own rule decides the next run (`mailing_reschedule`): a mailing
    that never ran is due as if just created; one that has run continues on its
    calendar from now; an end moved into the past finishes it.
    """
    schedule_changed = mailing.start_at != start_at or mailing.end_at != end_at or mailing.periodicity != periodicity
    mailing.message = message
    mailing.start_at = start_at
    mailing.end_at = end_at
    mailing.periodicity = periodicity
    mailing.smtp_account = smtp_account
    mailing.full_clean(exclude=["owner", "message", "recipients", "disabled_by", "smtp_account"])
    # next_run_at and status are left out: the scheduler may have advanced them since this row was read.
    mailing.save(update_fields=["message", "start_at", "end_at", "periodicity", "smtp_account", "updated_at"])
    if schedule_changed:
        mailing_reschedule(mailing=mailing, now=timezone.now())
    mailing.recipients.set(recipients)
    data_version_bump(owner_id=mailing.owner_id)
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
    data_version_bump(owner_id=mailing.owner_id)
    logger.info("mailing deleted: mailing=%s", pk)
