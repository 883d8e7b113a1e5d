"""Managers' actions: block and unblock users, disable and enable mailings and owners' SMTP accounts.

These are the only changes a manager makes to other people's data. Each one is the same shape
(`_moderate`): one conditional UPDATE whose row count says whether the action applies (of two managers
acting at once, one wins and the other is told), then the owner's pages are refreshed (data version)
and a line is written to the managers' journal, all in one transaction.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import BooleanField, Case, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from core.data_versions import data_version_bump
from mailings.delivery.schedule import mailing_reschedule
from mailings.models import Mailing
from senders.models import SmtpAccount
from users.models import AuditEvent, User

logger = logging.getLogger(__name__)


class ModerationRefused(Exception):
    """A manager's action that may not happen; the message says why, for the manager."""


def audit_event_record(
    *,
    actor: User,
    action: str,
    target_type: str,
    target_id: int,
    target_repr: str,
    target_user: User | None,
    reason: str,
) -> AuditEvent:
    """One line of the managers' journal; call it inside the transaction of the change it records."""
    return AuditEvent.objects.create(
        actor=actor,
        actor_email=actor.email,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr[:255],
        target_user=target_user,
        reason=reason,
    )


def _moderate(
    *,
    rows: QuerySet[Any],
    changes: dict[str, Any],
    refused: str,
    actor: User,
    action: str,
    target_type: str,
    target_id: int,
    target_repr: str,
    target_user: User,
    reason: str,
    then: Callable[[], None] | None = None,
) -> None:
    """Conditional update → `then` (e.g. reschedule) → the owner's data version → the journal, in one transaction.

    ModerationRefused(`refused`) when no row matched (the action was already done by someone else).
    """
    with transaction.atomic():
        if not rows.update(**changes):
            raise ModerationRefused(refused)
        if then is not None:
            then()
        data_version_bump(owner_id=target_user.pk)
        audit_event_record(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            target_repr=target_repr,
            target_user=target_user,
            reason=reason,
        )


def _switched(*, enabled: bool, actor: User, reason: str, now: datetime) -> dict[str, Any]:
    """The columns of a mailing's or an SMTP account's enabled flag (who disabled it, when, why), switched."""
    if enabled:
        return {"is_enabled": True, "disabled_at": None, "disabled_by": None, "disabled_reason": "", "updated_at": now}
    return {"is_enabled": False, "disabled_at": now, "disabled_by": actor, "disabled_reason": reason, "updated_at": now}


def _switch_instance(obj: Mailing | SmtpAccount, *, enabled: bool, actor: User, reason: str, now: datetime) -> None:
    """The caller's instance as `_switched` left its row (updated_at aside)."""
    values = _switched(enabled=enabled, actor=actor, reason=reason, now=now)
    obj.is_enabled, obj.disabled_at = values["is_enabled"], values["disabled_at"]
    obj.disabled_by, obj.disabled_reason = values["disabled_by"], values["disabled_reason"]


# --- users --------------------------------------------------------------------------------------


def user_block_refusal(*, actor: User, user: User) -> str | None:
    """Why `actor` may not block `user`, or None; the views hide the button on the same rule."""
    if actor.pk == user.pk:
        return _("Нельзя заблокировать самого себя.")
    if user.is_superuser:
        return _("Нельзя заблокировать суперпользователя.")
    if not actor.is_superuser and (user.is_staff or user.has_perm("users.block_user")):
        # Managers do not moderate each other; a superuser does.
        return _("Менеджера может заблокировать только суперпользователь.")
    return None


def user_block(*, user: User, actor: User, reason: str) -> User:
    """Block the account: it cannot sign in, its sessions end on their next request and nothing of it sends.

    The delivery engine re-checks the owner before each message, so a run in progress stops too.
    """
    reason = reason.strip()
    refusal = user_block_refusal(actor=actor, user=user)
    if refusal:
        raise ModerationRefused(refusal)
    if not reason:
        raise ModerationRefused(_("Укажите причину блокировки."))
    now = timezone.now()
    _moderate(
        rows=User.objects.filter(pk=user.pk, blocked_at__isnull=True),
        changes={"blocked_at": now, "blocked_by": actor, "block_reason": reason, "is_active": False},
        refused=_("Пользователь уже заблокирован."),
        actor=actor,
        action=AuditEvent.Action.USER_BLOCKED,
        target_type=AuditEvent.TargetType.USER,
        target_id=user.pk,
        target_repr=user.email,
        target_user=user,
        reason=reason,
    )
    user.blocked_at, user.blocked_by, user.block_reason, user.is_active = now, actor, reason, False
    logger.info("user blocked: id=%s email=%s by=%s", user.pk, user.email, actor.pk)
    return user


def user_unblock(*, user: User, actor: User, reason: str = "") -> User:
    """Let the account in again as it was: active if its address was confirmed, its mailings enabled as before.

    Runs that fell due while the owner was blocked are not made up for: each
    mailing whose next run passed meanwhile continues from its first slot after now.
    """
    reason = reason.strip()
    now = timezone.now()
    blocked_at = user.blocked_at

    def reschedule() -> None:
        if blocked_at is not None:
            for mailing in Mailing.objects.filter(owner=user, next_run_at__gt=blocked_at, next_run_at__lte=now):
                mailing_reschedule(mailing=mailing, now=now)

    _moderate(
        rows=User.objects.filter(pk=user.pk, blocked_at__isnull=False),
        changes={
            "blocked_at": None,
            "blocked_by": None,
            "block_reason": "",
            "is_active": Case(
                When(email_confirmed_at__isnull=False, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        },
        refused=_("Пользователь не заблокирован."),
        actor=actor,
        action=AuditEvent.Action.USER_UNBLOCKED,
        target_type=AuditEvent.TargetType.USER,
        target_id=user.pk,
        target_repr=user.email,
        target_user=user,
        reason=reason,
        then=reschedule,
    )
    user.refresh_from_db(fields=["blocked_at", "blocked_by", "block_reason", "is_active"])
    logger.info("user unblocked: id=%s email=%s by=%s active=%s", user.pk, user.email, actor.pk, user.is_active)
    return user


# --- mailings -----------------------------------------------------------------------------------


def _fell_due_during_pause(*, mailing_id: int, paused_at: datetime | None, now: datetime) -> bool:
    """Did the mailing's next run fall due while it was paused (disabled, or its owner blocked)?"""
    if paused_at is None:
        return False
    return Mailing.objects.filter(pk=mailing_id, next_run_at__gt=paused_at, next_run_at__lte=now).exists()


def _mailing_repr(mailing: Mailing) -> str:
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
    _moderate(
        rows=Mailing.objects.filter(pk=mailing.pk, is_enabled=True),
        changes=_switched(enabled=False, actor=actor, reason=reason, now=now),
        refused=_("Рассылка уже отключена."),
        actor=actor,
        action=AuditEvent.Action.MAILING_DISABLED,
        target_type=AuditEvent.TargetType.MAILING,
        target_id=mailing.pk,
        target_repr=_mailing_repr(mailing),
        target_user=mailing.owner,
        reason=reason,
    )
    _switch_instance(mailing, enabled=False, actor=actor, reason=reason, now=now)
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

    def reschedule() -> None:
        if _fell_due_during_pause(mailing_id=mailing.pk, paused_at=mailing.disabled_at, now=now):
            mailing.refresh_from_db(fields=["next_run_at", "status", "start_at", "end_at", "periodicity"])
            mailing_reschedule(mailing=mailing, now=now)

    _moderate(
        rows=Mailing.objects.filter(pk=mailing.pk, is_enabled=False),
        changes=_switched(enabled=True, actor=actor, reason="", now=now),
        refused=_("Рассылка не отключена."),
        actor=actor,
        action=AuditEvent.Action.MAILING_ENABLED,
        target_type=AuditEvent.TargetType.MAILING,
        target_id=mailing.pk,
        target_repr=_mailing_repr(mailing),
        target_user=mailing.owner,
        reason=reason,
        then=reschedule,
    )
    _switch_instance(mailing, enabled=True, actor=actor, reason="", now=now)
    logger.info("mailing enabled: mailing=%s owner=%s by=%s", mailing.pk, mailing.owner_id, actor.pk)
    return mailing


# --- SMTP accounts ------------------------------------------------------------------------------


def _account_repr(account: SmtpAccount) -> str:
    return f"#{account.pk} {account.name} <{account.from_email}> ({account.owner.email})"


def smtp_account_disable(*, account: SmtpAccount, actor: User, reason: str) -> SmtpAccount:
    """Stop the account: runs of the mailings that send through it wait (never through another account).

    The engine looks at the account before each batch (mailings/delivery/accounts.py: sender_pause); a waiting
    run goes on when the account is enabled again, and what is left at its mailing's end is skipped as ever.
    """
    reason = reason.strip()
    if not reason:
        raise ModerationRefused(_("Укажите причину отключения."))
    now = timezone.now()
    _moderate(
        rows=SmtpAccount.objects.filter(pk=account.pk, is_enabled=True),
        changes=_switched(enabled=False, actor=actor, reason=reason, now=now),
        refused=_("Учётная запись уже отключена."),
        actor=actor,
        action=AuditEvent.Action.SMTP_ACCOUNT_DISABLED,
        target_type=AuditEvent.TargetType.SMTP_ACCOUNT,
        target_id=account.pk,
        target_repr=_account_repr(account),
        target_user=account.owner,
        reason=reason,
    )
    _switch_instance(account, enabled=False, actor=actor, reason=reason, now=now)
    logger.info("smtp account disabled: account=%s owner=%s by=%s", account.pk, account.owner_id, actor.pk)
    return account


def smtp_account_enable(*, account: SmtpAccount, actor: User, reason: str = "") -> SmtpAccount:
    """Let the account send again; waiting runs go on at their next wake (within SENDER_PAUSE_SECONDS)."""
    reason = reason.strip()
    now = timezone.now()
    _moderate(
        rows=SmtpAccount.objects.filter(pk=account.pk, is_enabled=False),
        changes=_switched(enabled=True, actor=actor, reason="", now=now),
        refused=_("Учётная запись не отключена."),
        actor=actor,
        action=AuditEvent.Action.SMTP_ACCOUNT_ENABLED,
        target_type=AuditEvent.TargetType.SMTP_ACCOUNT,
        target_id=account.pk,
        target_repr=_account_repr(account),
        target_user=account.owner,
        reason=reason,
    )
    _switch_instance(account, enabled=True, actor=actor, reason="", now=now)
    logger.info("smtp account enabled: account=%s owner=%s by=%s", account.pk, account.owner_id, actor.pk)
    return account
