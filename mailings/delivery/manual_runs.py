"""Runs started by a person: «Отправить сейчас», `manage.py send_mailing` and «Повторить для неудачных».

They create the run the same way the scheduler does (attempt_start) without touching the schedule.
"""

import logging
from datetime import datetime

from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailings.delivery.runs import attempt_start
from mailings.models import Attempt, Delivery, Mailing

logger = logging.getLogger(__name__)


class SendRefused(Exception):
    """The run cannot start; the message says why, for the person who asked."""


# What the person who asked is told, for each reason the rule (Mailing.send_block) gives.
_REFUSALS = {
    "mailing_disabled": gettext_lazy("Рассылка отключена: отправка невозможна."),
    "owner_blocked": gettext_lazy("Владелец рассылки заблокирован: отправка невозможна."),
    "window_closed": gettext_lazy("Время рассылки истекло: отправка невозможна."),
}


def mailing_send_block_reason(*, mailing: Mailing, now: datetime) -> str | None:
    """Why a person may not start a run of the mailing now, in their words; None if they may."""
    why = mailing.send_block(now=now)
    return str(_REFUSALS[why.code]) if why is not None else None


def mailing_send_now(*, mailing: Mailing, trigger: str = Attempt.Trigger.MANUAL) -> Attempt:
    """Start a run of the mailing to all its recipients now; SendRefused if it may not run."""
    reason = mailing_send_block_reason(mailing=mailing, now=timezone.now())
    if reason:
        raise SendRefused(reason)
    if not mailing.audience().exists():
        raise SendRefused(_("В рассылке нет получателей."))
    try:
        attempt = attempt_start(mailing=mailing, trigger=trigger)
    except IntegrityError as exc:
        # attempt_one_person_run_at_a_time: a run started by a person is still going (a double click).
        raise SendRefused(_("Рассылка уже отправляется: дождитесь окончания текущей отправки.")) from exc
    return attempt


def attempt_retry_failed(*, attempt: Attempt) -> Attempt:
    """A new run (trigger retry) for the failed and unknown recipients of a finished attempt."""
    if not attempt.is_final:
        raise SendRefused(_("Попытка ещё выполняется: повторить можно после её завершения."))
    if attempt.retries.exists():
        raise SendRefused(_("Эту попытку уже повторили: чтобы повторить ещё раз, откройте попытку-повтор."))
    mailing = attempt.mailing
    reason = mailing_send_block_reason(mailing=mailing, now=timezone.now())
    if reason:
        raise SendRefused(reason)
    recipient_ids = list(
        Delivery.objects.filter(
            attempt=attempt,
            state__in=[Delivery.State.FAILED, Delivery.State.UNKNOWN],
            recipient__in=mailing.audience(),
        ).values_list("recipient_id", flat=True)
    )
    if not recipient_ids:
        raise SendRefused(_("В этой попытке нет неудачных получателей, которых можно повторить."))
    try:
        retry = attempt_start(
            mailing=mailing, trigger=Attempt.Trigger.RETRY, recipient_ids=recipient_ids, retry_of=attempt
        )
    except IntegrityError as exc:
        # attempt_one_retry_per_attempt / attempt_one_person_run_at_a_time: a double click.
        raise SendRefused(_("Эту попытку уже повторили или рассылка уже отправляется.")) from exc
    logger.info(
        "retry of failed recipients: attempt=%s retry=%s recipients=%s", attempt.pk, retry.pk, len(recipient_ids)
    )
    return retry
