"""Writes of mailings (Рассылки): create, update, delete; the first due time comes from the scheduler's calendar.

Managers disable and enable mailings in moderation/services.py.
"""

import logging
from collections.abc import Iterable
from datetime import datetime, time
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.data_versions import data_version_bump
from mailings.delivery.schedule import mailing_initial_next_run, mailing_reschedule
from mailings.delivery.windows import ALL_DAYS
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
    lists: Iterable[Any] = (),
    all_recipients: bool = False,
    smtp_account: SmtpAccount | None = None,
    send_window_start: time | None = None,
    send_window_end: time | None = None,
    send_window_days: str = ALL_DAYS,
) -> Mailing:
    """Create a mailing; one whose window is already open is due at once (the scheduler picks it up).

    Its audience is `recipients` and the members of `lists` (audience.List), or every recipient of the
    owner with `all_recipients`. The send window (`send_window_*`, mailings/delivery/windows.py) limits the
    hours and weekdays its messages may leave; by default any time.
    """
    mailing = Mailing(
        owner=owner,
        message=message,
        start_at=start_at,
        end_at=end_at,
        periodicity=periodicity,
        status=Mailing.Status.CREATED,
        all_recipients=all_recipients,
        smtp_account=smtp_account,
        send_window_start=send_window_start,
        send_window_end=send_window_end,
        send_window_days=send_window_days,
    )
    mailing.next_run_at = mailing_initial_next_run(mailing=mailing, now=timezone.now())
    mailing.full_clean(exclude=["owner", "message", "recipients", "lists", "smtp_account"])
    mailing.save()
    mailing.recipients.set(recipients)
    mailing.lists.set(lists)
    data_version_bump(owner_id=owner.pk)
    logger.info("mailing created: owner=%s mailing=%s next_run_at=%s", owner.pk, mailing.pk, mailing.next_run_at)
    return mailing


@transaction.atomic
def mailing_update(
    *,
    mailing: Mailing,
    message: Message,
    start_at: datetime,
    end_at: datetime,
    periodicity: str,
    recipients: Iterable[Recipient] | None = None,
    recipients_added: Iterable[int] = (),
    recipients_removed: Iterable[int] = (),
    lists: Iterable[Any] | None = None,
    all_recipients: bool | None = None,
    smtp_account: SmtpAccount | None = None,
    send_window_start: time | None = None,
    send_window_end: time | None = None,
    send_window_days: str | None = None,
) -> Mailing:
    """Change a mailing's content, sender, audience, schedule and send window.

    `send_window_days` None leaves the send window as it is; given, the three replace it (a run in progress
    follows the new window from its next task run on; deliveries already waiting for the old window's opening
    wake then).

    The individually chosen recipients are replaced by `recipients` when given; otherwise changed by
    ids (`recipients_added`, `recipients_removed`: the form never carries the whole selection, which
    may be 100,000 recipients). `lists` and `all_recipients` replace theirs when given.

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
    if all_recipients is not None:
        mailing.all_recipients = all_recipients
    if send_window_days is not None:
        mailing.send_window_start = send_window_start
        mailing.send_window_end = send_window_end
        mailing.send_window_days = send_window_days
    mailing.full_clean(exclude=["owner", "message", "recipients", "lists", "disabled_by", "smtp_account"])
    # next_run_at and status are left out: the scheduler may have advanced them since this row was read.
    mailing.save(
        update_fields=[
            "message",
            "start_at",
            "end_at",
            "periodicity",
            "smtp_account",
            "all_recipients",
            "send_window_start",
            "send_window_end",
            "send_window_days",
            "updated_at",
        ]
    )
    if schedule_changed:
        mailing_reschedule(mailing=mailing, now=timezone.now())
    if recipients is not None:
        mailing.recipients.set(recipients)
    removed = list(recipients_removed)
    if removed:
        mailing.recipients.through.objects.filter(mailing_id=mailing.pk, recipient_id__in=removed).delete()
    added = list(recipients_added)
    if added:
        # The caller checked that they are the owner's (the form's scoped field); add() skips those already in.
        mailing.recipients.add(*added)
    if lists is not None:
        mailing.lists.set(lists)
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
