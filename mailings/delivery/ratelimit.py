"""Sending limits per SMTP account: messages per second, hour and day.

An owner's account carries its own limits (`senders.SmtpAccount`, passed as `Limits`); the service account's
are the SEND_RATE_* settings (`Limits.from_settings()`, the default of every function here).

Counters live in SmtpAccountState so every worker shares them and they survive restarts.
A worker reserves a whole batch with one optimistic compare-and-set (the `version` column),
so the per-message cost is zero. Hours and days are calendar windows (days in TIME_ZONE).
"""

import logging
import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from mailings.delivery.breaker import account_state_get, account_state_peek
from mailings.models import SmtpAccountState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reservation:
    granted: int
    start: datetime  # the first reserved message may go at this time
    interval: float  # seconds between reserved messages (0: no pacing)
    retry_at: datetime | None = None  # when granted == 0: when a window opens again
    hour_start: datetime | None = None
    day_start: datetime | None = None


@dataclass(frozen=True)
class Limits:
    """Messages per second, hour and day of one account; 0 means no limit."""

    per_second: float = 0.0
    per_hour: int = 0
    per_day: int = 0

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(
            per_second=float(settings.SEND_RATE_PER_SECOND or 0),
            per_hour=int(settings.SEND_RATE_PER_HOUR or 0),
            per_day=int(settings.SEND_RATE_PER_DAY or 0),
        )

    @property
    def active(self) -> bool:
        return bool(self.per_second or self.per_hour or self.per_day)


def limits_active(limits: Limits | None = None) -> bool:
    return (limits or Limits.from_settings()).active


def _hour_start(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def _day_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(local.date(), time()), local.tzinfo)


def _next_day_start(day_start: datetime) -> datetime:
    local = timezone.localtime(day_start)
    return timezone.make_aware(datetime.combine(local.date() + timedelta(days=1), time()), local.tzinfo)


def batch_size_for_rate(batch_size: int, *, limits: Limits | None = None) -> int:
    """With a per-second limit, reserve about two seconds' worth so a batch's lease stays short."""
    rate = (limits or Limits.from_settings()).per_second
    if rate <= 0:
        return batch_size
    return max(1, min(batch_size, math.ceil(rate * 2)))


def ratelimit_reserve(*, account: str, want: int, now: datetime, limits: Limits | None = None) -> Reservation:
    """Reserve up to `want` messages for the account; granted may be 0 (see retry_at)."""
    limits = limits or Limits.from_settings()
    if not limits.active or want <= 0:
        return Reservation(granted=want, start=now, interval=0.0)
    per_second, per_hour, per_day = limits.per_second, limits.per_hour, limits.per_day
    hour_start, day_start = _hour_start(now), _day_start(now)
    for _try in range(20):
        state = account_state_get(account=account)
        hour_count = state.hour_count if state.hour_start == hour_start else 0
        day_count = state.day_count if state.day_start == day_start else 0
        granted = want
        retry_at: datetime | None = None
        if per_hour:
            if per_hour - hour_count <= 0:
                retry_at = hour_start + timedelta(hours=1)
            granted = min(granted, per_hour - hour_count)
        if per_day:
            if per_day - day_count <= 0:
                retry_at = max(retry_at or now, _next_day_start(day_start))
            granted = min(granted, per_day - day_count)
        if granted <= 0:
            return Reservation(granted=0, start=now, interval=0.0, retry_at=retry_at)
        interval = 1.0 / per_second if per_second > 0 else 0.0
        start = max(now, state.paced_until or now)
        won = SmtpAccountState.objects.filter(pk=state.pk, version=state.version).update(
            hour_start=hour_start,
            hour_count=hour_count + granted,
            day_start=day_start,
            day_count=day_count + granted,
            paced_until=start + timedelta(seconds=granted * interval),
            version=state.version + 1,
        )
        if won:
            return Reservation(
                granted=granted, start=start, interval=interval, hour_start=hour_start, day_start=day_start
            )
    # Heavy contention on the counters: let the caller come back in a moment.
    return Reservation(granted=0, start=now, interval=0.0, retry_at=now + timedelta(seconds=1))


def ratelimit_refund(*, account: str, reservation: Reservation, unused: int) -> None:
    """Give back reserved sends that never reached the server (released or skipped deliveries)."""
    # Only a reservation made under limits has windows (hour_start): that says the limits were active.
    if unused <= 0 or reservation.hour_start is None:
        return
    SmtpAccountState.objects.filter(account=account, hour_start=reservation.hour_start, hour_count__gte=unused).update(
        hour_count=F("hour_count") - unused, version=F("version") + 1
    )
    SmtpAccountState.objects.filter(account=account, day_start=reservation.day_start, day_count__gte=unused).update(
        day_count=F("day_count") - unused, version=F("version") + 1
    )


def ratelimit_expected_finish(
    *, account: str, remaining: int, now: datetime, limits: Limits | None = None
) -> datetime | None:
    """When `remaining` more messages can have gone out under the limits; None without limits."""
    limits = limits or Limits.from_settings()
    if not limits.active or remaining <= 0:
        return None
    per_second, per_hour, per_day = limits.per_second, limits.per_hour, limits.per_day
    state = account_state_peek(account=account)
    hour_start, day_start = _hour_start(now), _day_start(now)
    hour_used = state.hour_count if state.hour_start == hour_start else 0
    day_used = state.day_count if state.day_start == day_start else 0
    t = max(now, state.paced_until or now)
    for _step in range(100_000):
        if remaining <= 0:
            break
        cap = remaining
        if per_hour:
            cap = min(cap, per_hour - hour_used)
        if per_day:
            cap = min(cap, per_day - day_used)
        if cap <= 0:
            if per_day and per_day - day_used <= 0:
                day_start = _next_day_start(day_start)
                t = max(t, day_start)
                day_used = 0
            else:
                t = max(t, hour_start + timedelta(hours=1))
            hour_start = _hour_start(t)
            hour_used = 0
            continue
        t += timedelta(seconds=cap / per_second) if per_second > 0 else timedelta(0)
        remaining -= cap
        hour_used += cap
        day_used += cap
    return t
