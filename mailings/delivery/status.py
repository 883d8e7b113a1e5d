"""What a mailing's page shows of its runs in progress: a pause (its account's breaker, or the account
disabled) and the expected finish under its account's limits."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from mailings.delivery.accounts import mailing_sender
from mailings.delivery.breaker import account_state_peek
from mailings.delivery.ratelimit import ratelimit_expected_finish
from mailings.delivery.run_finish import NOT_FINAL_STATES
from mailings.models import Attempt, Delivery, Mailing


@dataclass(frozen=True)
class SendingStatus:
    in_progress: bool
    paused: bool
    paused_reason: str
    next_probe_at: datetime | None
    remaining: int
    expected_finish_at: datetime | None
    # The account itself may not send (disabled by a manager, ...): not the server's trouble.
    account_paused: bool = False


def mailing_sending_status(*, mailing: Mailing, now: datetime | None = None) -> SendingStatus:
    """Pause and expected finish (under its account's limits) for a mailing's runs in progress."""
    now = now or timezone.now()
    remaining = Delivery.objects.filter(
        attempt__mailing=mailing, attempt__status=Attempt.Status.IN_PROGRESS, state__in=NOT_FINAL_STATES
    ).count()
    if not remaining:
        return SendingStatus(False, False, "", None, 0, None)
    sender = mailing_sender(smtp_account_id=mailing.smtp_account_id)
    held = sender.paused
    account = sender.config.account
    state = account_state_peek(account=account)
    expected = ratelimit_expected_finish(account=account, remaining=remaining, now=now, limits=sender.limits)
    if held is not None:
        return SendingStatus(True, True, held.text(), None, remaining, None, account_paused=True)
    paused = state.breaker_open_until is not None
    if paused and expected is not None and state.breaker_open_until and state.breaker_open_until > now:
        expected = expected + (state.breaker_open_until - now)
    return SendingStatus(
        in_progress=True,
        paused=paused,
        paused_reason=state.breaker_reason_text,
        next_probe_at=state.breaker_open_until,
        remaining=remaining,
        expected_finish_at=expected,
    )
