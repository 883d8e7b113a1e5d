"""Writes of mailings (Рассылки): create, update, delete; the first due time comes from the scheduler's calendar.

Managers disable and enable mailings (`mailing_disable`, `mailing_enable`), recorded in the audit log.
"""

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.data_versions import data_version_bump
from mailings.delivery.schedule import mailing_initial_next_run, mailing_reschedule
from mailings.models import Mailing, Message, Recipient
from users.models import AuditEvent, User
from users.services import ModerationRefused, audit_event_record

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
) -> Mailing:
    """Create a mailing; one whose window is already open is due at once (the scheduler picks it up).

    Its audience is `recipients` and the members of `lists` (audience.List), or every recipient of the
    owner with `all_recipients`.
    """
    mailing = Mailing(
        owner=owner,
        message=message,
        start_at=start_at,
        end_at=end_at,
        periodicity=periodicity,
        status=Mailing.Status.CREATED,
        all_recipients=all_recipients,
    )
    mailing.next_run_at = mailing_initial_next_run(mailing=mailing, now=timezone.now())
    mailing.full_clean(exclude=["owner", "message", "recipients", "lists"])
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
) -> Mailing:
    """Change a mailing's content, audience and schedule.

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
    if all_recipients is not None:
        mailing.all_recipients = all_recipients
    mailing.full_clean(exclude=["owner", "message", "recipients", "lists", "disabled_by"])
    # next_run_at and status are left out: the scheduler may have advanced them since this row was read.
    mailing.save(update_fields=["message", "start_at", "end_at", "periodicity", "all_recipients", "updated_at"])
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


def _fell_due_during_pause(*, mailing_id: int, paused_at: datetime | None, now: datetime) -> bool:
    """Did the mailing's next run fall due while it was paused (disabled, or its owner blocked)?"""
    if paused_at is None:
        return False
    return Mailing.objects.filter(pk=mailing_id, next_run_at__gt=paused_at, next_run_at__lte=now).exists()


def _audit_target(mailing: Mailing) -> str:
    return f"#{mailing.pk} {mailing.message.subject} ({mailing.owner.email})"


def mailing_disable(*, mailing: Mailing, actor: User, reason: str) -> Mailing:
    """Stop the mailing: no new runs start and a run in progress skips the rest.

    The delivery engine re-checks `is_enabled` before each message. The schedule
    (next_run_at, status) is left as it is, so enabling restores the mailing as it was.
    """
    reason = reason.strip()
    if not reason:
        raise ModerationRefused(_("Укажите причину отключения."))
    now = timezone.now()
    with transaction.atomic():
        updated = Mailing.objects.filter(pk=mailing.pk, is_enabled=True).update(
            is_enabled=False, disabled_at=now, disabled_by=actor, disabled_reason=reason, updated_at=now
        )
        if not updated:
            raise ModerationRefused(_("Рассылка уже отключена."))
        data_version_bump(owner_id=mailing.owner_id)
        audit_event_record(
            actor=actor,
            action=AuditEvent.Action.MAILING_DISABLED,
            target_type=AuditEvent.TargetType.MAILING,
            target_id=mailing.pk,
            target_repr=_audit_target(mailing),
            target_user=mailing.owner,
            reason=reason,
        )
    mailing.is_enabled, mailing.disabled_at, mailing.disabled_by, mailing.disabled_reason = False, now, actor, reason
    logger.info("mailing disabled: mailing=%s owner=%s by=%s", mailing.pk, mailing.owner_id, actor.pk)
    return mailing


def mailing_enable(*, mailing: Mailing, actor: User, reason: str = "") -> Mailing:
    """Let the mailing send again.

    Slots that fell due while it was disabled are not made up for: if its next
    run passed meanwhile, the calendar continues from the first slot after now
    (no late run, and the scheduler does not record the pause as downtime).
    """
    reason = reason.strip()
    now = timezone.now()
    with transaction.atomic():
        updated = Mailing.objects.filter(pk=mailing.pk, is_enabled=False).update(
            is_enabled=True, disabled_at=None, disabled_by=None, disabled_reason="", updated_at=now
        )
        if not updated:
            raise ModerationRefused(_("Рассылка не отключена."))
        if _fell_due_during_pause(mailing_id=mailing.pk, paused_at=mailing.disabled_at, now=now):
            mailing.refresh_from_db(fields=["next_run_at", "status", "start_at", "end_at", "periodicity"])
            mailing_reschedule(mailing=mailing, now=now)
        data_version_bump(owner_id=mailing.owner_id)
        audit_event_record(
            actor=actor,
            action=AuditEvent.Action.MAILING_ENABLED,
            target_type=AuditEvent.TargetType.MAILING,
            target_id=mailing.pk,
            target_repr=_audit_target(mailing),
            target_user=mailing.owner,
            reason=reason,
        )
    mailing.is_enabled, mailing.disabled_at, mailing.disabled_by, mailing.disabled_reason = True, None, None, ""
    logger.info("mailing enabled: mailing=%s owner=%s by=%s", mailing.pk, mailing.owner_id, actor.pk)
    return mailing
