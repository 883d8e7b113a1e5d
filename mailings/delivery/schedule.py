"""The mailing calendar and the scheduler's tick (docs/architecture.md, steps 1 and 2).

Slots of a periodic mailing are `start_at + k·period` on the wall clock of its
owner's time zone (`User.zone`; the service's TIME_ZONE for an owner who never
chose one): a daily 09:00 mailing stays at 09:00
local time across a DST change, and a monthly one anchored on the 31st runs on
the last day of shorter months. Slot k is always computed from the anchor
(never from the previous slot), so a short month does not pull later slots
back to the 28th.
"""

import calendar
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from core.data_versions import data_version_bump, data_versions_bump
from mailings.delivery.reasons import reason
from mailings.delivery.recovery import attempts_finish_stale, attempts_wake_due_retries, deliveries_sweep_expired_leases
from mailings.delivery.runs import attempt_start
from mailings.delivery.windows import window_for_mailing
from mailings.models import Attempt, Mailing
from webhooks.tasks import webhook_messages_wake

logger = logging.getLogger(__name__)

# After downtime every missed slot gets a skipped Attempt, but only the most
# recent ones: a daily mailing whose scheduler was off for years must not
# insert thousands of rows in one tick. The oldest recorded one says how many
# more were left out.
MISSED_SLOTS_RECORDED = 100

# Due mailings started per query; a tick keeps going until none are left.
DUE_BATCH_SIZE = 200

LAST_TICK_CACHE_KEY = "scheduler:last_tick"

_PERIOD_DAYS: dict[str, int] = {Mailing.Periodicity.DAILY: 1, Mailing.Periodicity.WEEKLY: 7}


@dataclass(frozen=True)
class StartDueResult:
    started: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class TickResult:
    started: int = 0
    skipped: int = 0
    finished: int = 0
    leases_swept: int = 0
    retries_woken: int = 0

    @property
    def anything_done(self) -> bool:
        return any((self.started, self.skipped, self.finished, self.leases_swept, self.retries_woken))


# --- calendar -------------------------------------------------------------------------------------------------------


def _service_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    total = year * 12 + (month - 1) + months
    return total // 12, total % 12 + 1


def slot_at(*, start_at: datetime, periodicity: str, index: int, tz: ZoneInfo | None = None) -> datetime:
    """Slot number `index` (0 is start_at itself) of a periodic mailing, as an aware UTC datetime.

    A wall-clock time that does not exist on a spring-forward day (02:30 in
    Berlin) resolves, with fold=0, to the same instant one hour later in local
    time; an ambiguous one on a fall-back day resolves to its first occurrence.
    Either way there is exactly one slot per calendar day. `tz`: the owner's zone (default: the service's).
    """
    tz = tz or _service_tz()
    anchor = start_at.astimezone(tz)
    wall_time = anchor.time().replace(tzinfo=None, fold=0)
    if periodicity in _PERIOD_DAYS:
        day = anchor.date() + timedelta(days=_PERIOD_DAYS[periodicity] * index)
    elif periodicity == Mailing.Periodicity.MONTHLY:
        year, month = _add_months(anchor.year, anchor.month, index)
        day = anchor.date().replace(year=year, month=month, day=min(anchor.day, calendar.monthrange(year, month)[1]))
    else:
        raise ValueError(f"no calendar for periodicity {periodicity!r}")
    return datetime.combine(day, wall_time, tzinfo=tz).astimezone(UTC)


def slot_index_after(*, start_at: datetime, periodicity: str, moment: datetime, tz: ZoneInfo | None = None) -> int:
    """The index of the first slot strictly after `moment` (0 when moment is before start_at)."""
    tz = tz or _service_tz()
    anchor_date = start_at.astimezone(tz).date()
    moment_local = moment.astimezone(tz)
    if periodicity in _PERIOD_DAYS:
        elapsed = (moment_local.date() - anchor_date).days // _PERIOD_DAYS[periodicity]
    elif periodicity == Mailing.Periodicity.MONTHLY:
        elapsed = (moment_local.year - anchor_date.year) * 12 + (moment_local.month - anchor_date.month)
    else:
        raise ValueError(f"no calendar for periodicity {periodicity!r}")
    # One period back from the estimate is certainly not after `moment`
    # (whatever a DST shift does to the hour), so a short walk forward finds it.
    index = max(0, elapsed - 1)
    while slot_at(start_at=start_at, periodicity=periodicity, index=index, tz=tz) <= moment:
        index += 1
    return index


def next_occurrence(
    *, start_at: datetime, end_at: datetime, periodicity: str, after: datetime, tz: ZoneInfo | None = None
) -> datetime | None:
    """The first slot strictly after `after` that is still before `end_at`, or None.

    A once mailing has a single slot, `start_at`. `tz`: the owner's zone (default: the service's).
    """
    if periodicity == Mailing.Periodicity.ONCE:
        slot = start_at
    else:
        index = slot_index_after(start_at=start_at, periodicity=periodicity, moment=after, tz=tz)
        slot = slot_at(start_at=start_at, periodicity=periodicity, index=index, tz=tz)
    if slot <= after or slot >= end_at:
        return None
    return slot


def mailing_initial_next_run(*, mailing: Mailing, now: datetime) -> datetime | None:
    """The first due time of a new (or rescheduled, never run) mailing.

    A window that is already open makes it due now; a future start makes it due
    at `start_at`; a window that has closed means it never runs. The "now" run
    is a slot of its own; the ones after it follow the start_at calendar.
    """
    if now >= mailing.end_at:
        return None
    if now < mailing.start_at:
        return mailing.start_at
    return now


def _slots_between(*, mailing: Mailing, since: datetime, until: datetime, limit: int) -> tuple[list[datetime], int]:
    """The due slots in [since, until], oldest first: at most the last `limit`, and how many there are in all.

    `since` is the stored next_run_at and counts as a slot even when it is off
    the calendar (the "now" of a mailing created inside its window).
    """
    if since > until:
        return [], 0
    if mailing.periodicity == Mailing.Periodicity.ONCE:
        return [since], 1
    periodicity, tz = mailing.periodicity, mailing.owner.zone
    first = slot_index_after(start_at=mailing.start_at, periodicity=periodicity, moment=since, tz=tz)
    stop = slot_index_after(start_at=mailing.start_at, periodicity=periodicity, moment=until, tz=tz)
    total = 1 + (stop - first)
    lo = max(first, stop - limit)
    slots = [slot_at(start_at=mailing.start_at, periodicity=periodicity, index=k, tz=tz) for k in range(lo, stop)]
    if total <= limit:
        slots.insert(0, since)
    return slots, total


def _window_shut_until_next(*, mailing: Mailing, new_next: datetime | None, now: datetime) -> bool:
    """The mailing's send window opens only at or after its next run (or its end): this slot's run could never
    send before the next one, so it is skipped. Without this a daily mailing with a weekday window would mail
    everyone its Saturday, Sunday and Monday messages together on Monday morning."""
    window = window_for_mailing(mailing)
    if window.always_open:
        return False
    barrier = min((moment for moment in (new_next, mailing.end_at) if moment is not None), default=None)
    return barrier is not None and window.next_open(now) >= barrier


def _record_skipped_slots(
    *, mailing: Mailing, slots: list[datetime], left_out: int, now: datetime, note: str = "missed_slot"
) -> int:
    if not slots:
        return 0
    attempts = [
        Attempt(
            mailing=mailing,
            trigger=Attempt.Trigger.SCHEDULE,
            scheduled_for=slot,
            status=Attempt.Status.SKIPPED,
            started_at=slot,
            finished_at=now,
            note=note,
        )
        for slot in slots
    ]
    if left_out:
        attempts[0].note = "missed_slots"
        attempts[0].note_params = reason("missed_slots", count=left_out).stored_params()
    # ignore_conflicts: a slot another scheduler already recorded stays as it is
    # (the attempt_one_per_slot constraint is a partial unique index, which
    # ON CONFLICT DO NOTHING / INSERT OR IGNORE both respect).
    Attempt.objects.bulk_create(attempts, ignore_conflicts=True)
    return len(attempts)


# --- starting runs --------------------------------------------------------------------------------------------------


def mailings_due(*, now: datetime) -> QuerySet[Mailing]:
    """Mailings whose next run is due: they may send now (the rule) and next_run_at <= now."""
    return (
        Mailing.objects.may_send(now=now)
        .filter(next_run_at__lte=now)
        .select_related("owner")
        .order_by("next_run_at", "pk")
    )


def _mailing_start_due(*, mailing: Mailing, now: datetime) -> StartDueResult:
    """Start the run of one due mailing if this scheduler wins its slot."""
    old = mailing.next_run_at
    assert old is not None
    slots, total = _slots_between(mailing=mailing, since=old, until=now, limit=MISSED_SLOTS_RECORDED + 1)
    run_slot, missed = slots[-1], slots[:-1]
    if mailing.periodicity == Mailing.Periodicity.ONCE:
        new_next = None
    else:
        new_next = next_occurrence(
            start_at=mailing.start_at,
            end_at=mailing.end_at,
            periodicity=mailing.periodicity,
            after=now,
            tz=mailing.owner.zone,
        )
    with transaction.atomic():
        # The compare-and-set on the old next_run_at is the claim: of two
        # schedulers only one UPDATE matches (SQLite serialises the IMMEDIATE
        # transactions; PostgreSQL re-checks the WHERE after the row lock). It
        # names columns of this table only: PostgreSQL does not re-check a
        # joined subquery (owner) after waiting for the lock, which would let
        # both win.
        won = Mailing.objects.filter(pk=mailing.pk, next_run_at=old, is_enabled=True).update(next_run_at=new_next)
        if not won:
            return StartDueResult()
        data_version_bump(owner_id=mailing.owner_id)
        mailing.next_run_at = new_next
        skipped = _record_skipped_slots(mailing=mailing, slots=missed, left_out=total - len(slots), now=now)
        if _window_shut_until_next(mailing=mailing, new_next=new_next, now=now):
            _record_skipped_slots(mailing=mailing, slots=[run_slot], left_out=0, now=now, note="outside_send_window")
            logger.info("slot skipped, its send window opens only after the next run: mailing=%s", mailing.pk)
            return StartDueResult(skipped=skipped + 1)
        try:
            # Own savepoint: a lost INSERT must not undo the claim above, or
            # every tick would retry the same slot.
            with transaction.atomic():
                attempt = attempt_start(mailing=mailing, trigger=Attempt.Trigger.SCHEDULE, scheduled_for=run_slot)
        except IntegrityError:
            # attempt_one_per_slot: another scheduler already started this slot.
            logger.info("slot already started elsewhere: mailing=%s slot=%s", mailing.pk, run_slot.isoformat())
            return StartDueResult(skipped=skipped)
        if missed:
            Attempt.objects.filter(pk=attempt.pk).update(note="late_run")
            attempt.note = "late_run"
    logger.info(
        "scheduled run started: mailing=%s attempt=%s slot=%s late_by=%.3fs missed_slots=%s next_run_at=%s",
        mailing.pk,
        attempt.pk,
        run_slot.isoformat(),
        (now - run_slot).total_seconds(),
        total - 1,
        new_next.isoformat() if new_next else None,
    )
    return StartDueResult(started=1, skipped=skipped)


def mailings_start_due(*, now: datetime) -> StartDueResult:
    """Start a run for every due mailing; after downtime, record the missed slots and make one late run."""
    started = skipped = 0
    failed: set[int] = set()
    while True:
        batch = list(mailings_due(now=now).exclude(pk__in=failed)[:DUE_BATCH_SIZE])
        for mailing in batch:
            try:
                result = _mailing_start_due(mailing=mailing, now=now)
            except (OperationalError, InterfaceError):
                # The database is locked or away: the whole tick gives up and the
                # command retries on the next one.
                raise
            except Exception:
                # One bad row must not stop every other mailing from starting.
                logger.exception("could not start mailing=%s", mailing.pk)
                failed.add(mailing.pk)
                continue
            started += result.started
            skipped += result.skipped
        if len(batch) < DUE_BATCH_SIZE:
            return StartDueResult(started=started, skipped=skipped)


# --- finishing ------------------------------------------------------------------------------------------------------


def mailings_finish_expired(*, now: datetime) -> int:
    """Mark mailings whose end_at has passed Завершена and clear their next run; returns how many.

    Slots that fell due while the scheduler was away and whose window closed
    before it came back are recorded as skipped: nothing is sent after end_at.
    """
    expired = Mailing.objects.filter(
        end_at__lte=now, status__in=[Mailing.Status.CREATED, Mailing.Status.RUNNING]
    ).order_by("pk")
    missed = expired.allowed_to_send().filter(next_run_at__isnull=False, next_run_at__lte=now).select_related("owner")
    for mailing in missed.iterator():
        old = mailing.next_run_at
        assert old is not None
        try:
            slots, total = _slots_between(
                mailing=mailing,
                since=old,
                until=mailing.end_at - timedelta(microseconds=1),
                limit=MISSED_SLOTS_RECORDED,
            )
            with transaction.atomic():
                if Mailing.objects.filter(pk=mailing.pk, next_run_at=old).update(next_run_at=None):
                    _record_skipped_slots(mailing=mailing, slots=slots, left_out=total - len(slots), now=now)
                    logger.info("window closed while the scheduler was away: mailing=%s missed=%s", mailing.pk, total)
        except (OperationalError, InterfaceError):
            # The database is locked or away: the whole tick gives up and the command retries on the next one.
            raise
        except Exception:
            # One bad row must not stop the tick: the mailing is still finished below, its missed slots unrecorded.
            logger.exception("could not record the missed slots of mailing=%s", mailing.pk)
    owner_ids = set(expired.values_list("owner_id", flat=True))
    finished = expired.update(status=Mailing.Status.FINISHED, next_run_at=None)
    if finished:
        data_versions_bump(owner_ids=owner_ids)
        logger.info("mailings finished: %s", finished)
    return finished


# --- editing --------------------------------------------------------------------------------------------------------


def mailing_reschedule(*, mailing: Mailing, now: datetime) -> datetime | None:
    """Recompute next_run_at (and the status) after the schedule of `mailing` was edited; returns the next run.

    Uses the instance's start_at, end_at and periodicity (saved or not) and
    writes only next_run_at and status. A mailing that never ran on schedule is
    due as if just created (now, if its window is open); one that did continues
    on its calendar from the first slot after now, so an edit neither repeats a
    run nor makes a late one. A once mailing that has run only runs again if its
    start moves into the future.
    """
    with transaction.atomic():
        # The row lock (PostgreSQL; SQLite's IMMEDIATE transaction locks the
        # file) keeps a concurrent scheduler claim from slipping between the
        # check for past runs and the write.
        status = Mailing.objects.select_for_update().values_list("status", flat=True).get(pk=mailing.pk)
        has_run = (
            Attempt.objects.filter(mailing_id=mailing.pk, trigger=Attempt.Trigger.SCHEDULE)
            .exclude(status=Attempt.Status.SKIPPED)
            .exists()
        )
        if now >= mailing.end_at:
            next_run = None
            status = Mailing.Status.FINISHED
        else:
            if has_run:
                next_run = next_occurrence(
                    start_at=mailing.start_at,
                    end_at=mailing.end_at,
                    periodicity=mailing.periodicity,
                    after=now,
                    tz=mailing.owner.zone,
                )
            else:
                next_run = mailing_initial_next_run(mailing=mailing, now=now)
            if status == Mailing.Status.FINISHED:
                # The window was reopened by the edit.
                status = Mailing.Status.RUNNING if has_run else Mailing.Status.CREATED
        Mailing.objects.filter(pk=mailing.pk).update(next_run_at=next_run, status=status)
    mailing.next_run_at = next_run
    mailing.status = status
    logger.info("mailing rescheduled: mailing=%s next_run_at=%s", mailing.pk, next_run and next_run.isoformat())
    return next_run


# --- the tick -------------------------------------------------------------------------------------------------------


def scheduler_tick(*, now: datetime) -> TickResult:
    """One pass of the scheduler: finish expired mailings, sweep leases, wake retries, start due runs."""
    finished = mailings_finish_expired(now=now)
    leases_swept = deliveries_sweep_expired_leases(now=now)
    # Before starting new runs: a run started in this tick already has its
    # delivery tasks enqueued and must not be "woken" with another one.
    retries_woken = attempts_wake_due_retries(now=now)
    attempts_finish_stale(now=now)
    started = mailings_start_due(now=now)
    webhook_messages_wake(now=now)
    return TickResult(
        started=started.started,
        skipped=started.skipped,
        finished=finished,
        leases_swept=leases_swept,
        retries_woken=retries_woken,
    )


def scheduler_record_tick(*, now: datetime) -> None:
    """Remember when the scheduler last completed a tick, in the cache every process shares (for a health page)."""
    cache.set(LAST_TICK_CACHE_KEY, now.isoformat(), timeout=None)


def scheduler_last_tick() -> datetime | None:
    """When the scheduler last completed a tick, or None if it never has (or the cache forgot)."""
    value = cache.get(LAST_TICK_CACHE_KEY)
    return parse_datetime(value) if isinstance(value, str) else None
