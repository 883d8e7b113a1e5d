"""What a mailing's page shows of its runs in progress: a pause (its account's breaker, or the account
disabled), a wait for its send window, and the expected finish under its account's limits and its window."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from mailings.delivery.accounts import mailing_sender
from mailings.delivery.breaker import account_state_peek
from mailings.delivery.counts import attempt_state_counts, attempts_remaining
from mailings.delivery.ratelimit import ratelimit_expected_finish
from mailings.delivery.windows import SendWindow, window_for_mailing
from mailings.models import Attempt, Delivery, Mailing


@dataclass(frozen=True)
class RunProgress:
    """How far one run in progress has got: its deliveries by state."""

    attempt_id: int
    started_at: datetime
    total: int
    done: int
    counts: list[tuple[str, str, int]]

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100


@dataclass(frozen=True)
class SendingStatus:
    in_progress: bool
    paused: bool
    paused_reason: str
    next_probe_at: datetime | None
    remaining: int
    expected_finish_at: datetime | None
    runs: list[RunProgress] = field(default_factory=list)
    # The account itself may not send (disabled by a manager, ...): not the server's trouble.
    account_paused: bool = False
    # Outside the mailing's send window: when it opens, and that moment on the owner's clock («09:00», or with
    # the date when not today there) with the owner's zone, for «ждёт окна отправки: с 09:00 (Asia/Novosibirsk)».
    window_opens_at: datetime | None = None
    window_opens_label: str = ""
    window_zone: str = ""


def runs_progress(*, attempts: QuerySet[Attempt]) -> list[RunProgress]:
    """The progress of these attempts (those in progress among them), from their counters (one query)."""
    runs = []
    for attempt in attempts.filter(status=Attempt.Status.IN_PROGRESS).order_by("started_at", "pk"):
        by_state = attempt_state_counts(attempt)
        runs.append(
            RunProgress(
                attempt_id=attempt.pk,
                started_at=attempt.started_at,
                total=sum(by_state.values()),
                done=sum(n for state, n in by_state.items() if state in Delivery.FINAL_STATES),
                counts=[
                    (state, str(label), by_state[state]) for state, label in Delivery.State.choices if state in by_state
                ],
            )
        )
    return runs


def mailing_sending_status(
    *, mailing: Mailing, now: datetime | None = None, attempt: Attempt | None = None
) -> SendingStatus:
    """Pause, progress and expected finish (under its account's limits) of a mailing's runs in progress.

    With `attempt`, the progress shown is that run's only.
    """
    now = now or timezone.now()
    window = window_for_mailing(mailing)
    remaining = attempts_remaining(mailing_id=mailing.pk)
    if not remaining:
        return SendingStatus(False, False, "", None, 0, None)
    sender = mailing_sender(smtp_account_id=mailing.smtp_account_id)
    held = sender.paused
    account = sender.config.account
    state = account_state_peek(account=account)
    expected = ratelimit_expected_finish(account=account, remaining=remaining, now=now, limits=sender.limits)
    runs = runs_progress(attempts=Attempt.objects.filter(pk=attempt.pk) if attempt else mailing.attempts.all())
    opens_at, opens_label, zone = _window_wait(window=window, now=now)
    if held is not None:
        return SendingStatus(
            True,
            True,
            held.text(),
            None,
            remaining,
            None,
            runs=runs,
            account_paused=True,
            window_opens_at=opens_at,
            window_opens_label=opens_label,
            window_zone=zone,
        )
    paused = state.breaker_open_until is not None
    if paused and expected is not None and state.breaker_open_until and state.breaker_open_until > now:
        expected = expected + (state.breaker_open_until - now)
    if expected is not None and not window.always_open:
        # The limits' estimate is sending time; only the hours inside the window count towards it.
        expected = window.finish_after(start=now, seconds=(expected - now).total_seconds())
    return SendingStatus(
        in_progress=True,
        paused=paused,
        paused_reason=state.breaker_reason_text,
        next_probe_at=state.breaker_open_until,
        remaining=remaining,
        expected_finish_at=expected,
        runs=runs,
        window_opens_at=opens_at,
        window_opens_label=opens_label,
        window_zone=zone,
    )


def _window_wait(*, window: SendWindow, now: datetime) -> tuple[datetime | None, str, str]:
    """When a closed window opens: the instant, its wall-clock label in the owner's zone, and the zone."""
    if window.is_open(now):
        return None, "", ""
    opens = window.next_open(now)
    local = opens.astimezone(window.tz)
    label = f"{local:%H:%M}"
    if local.date() != now.astimezone(window.tz).date():
        # A date (not a datetime) is formatted as it is, never moved into the viewer's zone.
        label = f"{date_format(local.date(), 'SHORT_DATE_FORMAT')} {label}"
    return opens, label, window.tz.key
