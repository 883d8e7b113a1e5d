"""Circuit breaker per SMTP account (docs/architecture.md, failure policy: systemic problems).

While it is open nobody contacts the server; when its time is up exactly one worker wins the
probe (a conditional UPDATE), and the probe's outcome closes it or opens it again for longer.
No recipient is marked failed for it: the engine puts their deliveries back to wait.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from mailings.delivery.reasons import Reason
from mailings.models import SmtpAccountState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gate:
    """May we contact the server? `probe` means we won the single probe after an open period."""

    allowed: bool
    probe: bool = False
    retry_at: datetime | None = None
    # Why it is open (the server's trouble), for the deliveries that wait.
    cause: Reason | None = None


def account_state_get(*, account: str) -> SmtpAccountState:
    state, _created = SmtpAccountState.objects.get_or_create(account=account)
    return state


def account_state_peek(*, account: str) -> SmtpAccountState:
    """The account's state for display, without creating a row on a page view."""
    return SmtpAccountState.objects.filter(account=account).first() or SmtpAccountState(account=account)


def _open_seconds(opens: int) -> int:
    backoff = list(settings.SEND_BREAKER_BACKOFF) or [60]
    return int(backoff[min(max(opens, 1) - 1, len(backoff) - 1)])


def breaker_gate(*, account: str, now: datetime, probe_seconds: float) -> Gate:
    """Check the breaker before connecting. Costs one query while closed."""
    state = account_state_get(account=account)
    if state.breaker_open_until is None:
        return Gate(allowed=True)
    if state.breaker_open_until > now:
        cause = Reason.from_stored(state.breaker_reason, state.breaker_reason_params)
        return Gate(allowed=False, retry_at=state.breaker_open_until, cause=cause)
    probe_until = now + timedelta(seconds=probe_seconds)
    won = (
        SmtpAccountState.objects.filter(pk=state.pk, breaker_open_until=state.breaker_open_until)
        .filter(Q(breaker_probe_until__isnull=True) | Q(breaker_probe_until__lte=now))
        .update(breaker_probe_until=probe_until)
    )
    if won:
        logger.info("breaker probe: account=%s", account)
        return Gate(allowed=True, probe=True)
    cause = Reason.from_stored(state.breaker_reason, state.breaker_reason_params)
    return Gate(allowed=False, retry_at=probe_until, cause=cause)


def breaker_open(*, account: str, reason: Reason, now: datetime) -> datetime:
    """Open (or re-open, for longer) the breaker; returns when the next probe may happen."""
    state = account_state_get(account=account)
    opens = state.breaker_opens + 1
    if state.breaker_open_until is not None and state.breaker_open_until > now and state.breaker_probe_until is None:
        # Another worker opened it a moment ago for the same trouble: do not stretch it again.
        return state.breaker_open_until
    until = now + timedelta(seconds=_open_seconds(opens))
    SmtpAccountState.objects.filter(pk=state.pk).update(
        breaker_open_until=until,
        breaker_opens=opens,
        breaker_reason=reason.code,
        breaker_reason_params=reason.stored_params(),
        breaker_probe_until=None,
        breaker_changed_at=now,
    )
    logger.warning(
        "breaker opened: account=%s reason=%s opens=%s next probe at %s", account, reason, opens, until.isoformat()
    )
    return until


def breaker_close(*, account: str, now: datetime) -> bool:
    """Close the breaker after a successful probe; True if it was open."""
    closed = SmtpAccountState.objects.filter(account=account, breaker_open_until__isnull=False).update(
        breaker_open_until=None,
        breaker_opens=0,
        breaker_reason="",
        breaker_reason_params=None,
        breaker_probe_until=None,
        breaker_changed_at=now,
    )
    if closed:
        logger.warning("breaker closed: account=%s, sending resumes", account)
    return bool(closed)
