"""The scheduler's calendar and tick (mailings/delivery/schedule.py), with time moved by time-machine."""

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from pytest_django.fixtures import Settings

from mailings.delivery import schedule as scheduling
from mailings.delivery.schedule import (
    MISSED_SLOTS_RECORDED,
    TickResult,
    mailing_initial_next_run,
    mailing_reschedule,
    mailings_finish_expired,
    mailings_start_due,
    next_occurrence,
    scheduler_tick,
)
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from mailings.tests.sending_support import make_run
from users.models import User

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def local(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=tz)


def make_mailing(
    owner: User,
    *,
    start_at: datetime,
    end_at: datetime,
    periodicity: str = Mailing.Periodicity.ONCE,
    created_at: datetime | None = None,
    recipients: int = 2,
) -> Mailing:
    """A mailing as the create service leaves it: next_run_at from mailing_initial_next_run at creation time."""
    message = Message.objects.create(owner=owner, subject="Новости", body="Текст")
    mailing = Mailing(owner=owner, message=message, start_at=start_at, end_at=end_at, periodicity=periodicity)
    # Created an hour before its start unless the test says otherwise.
    created_at = created_at or start_at - timedelta(hours=1)
    mailing.next_run_at = mailing_initial_next_run(mailing=mailing, now=created_at)
    mailing.save()
    people = [
        Recipient.objects.create(owner=owner, email=f"r{mailing.pk}-{i}@example.com", full_name=f"Получатель {i}")
        for i in range(recipients)
    ]
    mailing.recipients.set(people)
    return mailing


def tick_at(moment: datetime) -> TickResult:
    with time_machine.travel(moment, tick=False):
        return scheduler_tick(now=timezone.now())


def tick_through(
    start: datetime, stop: datetime, *, step: timedelta, dense: tuple[datetime, datetime] | None = None
) -> None:
    """Tick every `step` from start to stop, and every five minutes inside `dense` (the night of a DST change)."""
    moments = set()
    moment = start
    while moment < stop:
        moments.add(moment)
        moment += step
    if dense is not None:
        moment = dense[0]
        while moment < dense[1]:
            moments.add(moment)
            moment += timedelta(minutes=5)
    for moment in sorted(moments):
        tick_at(moment)


def runs(mailing: Mailing) -> list[Attempt]:
    return list(
        Attempt.objects.filter(mailing=mailing, trigger=Attempt.Trigger.SCHEDULE)
        .exclude(status=Attempt.Status.SKIPPED)
        .order_by("scheduled_for")
    )


def slot(attempt: Attempt) -> datetime:
    assert attempt.scheduled_for is not None  # a scheduled run always serves a slot
    return attempt.scheduled_for


def skipped(mailing: Mailing) -> list[Attempt]:
    return list(Attempt.objects.filter(mailing=mailing, status=Attempt.Status.SKIPPED).order_by("scheduled_for"))


def run_through(mailing: Mailing, *, until: datetime, lateness: timedelta = timedelta(milliseconds=300)) -> None:
    """Tick just after every next_run_at the scheduler sets, as a healthy scheduler would, until `until`."""
    for _ in range(1000):
        mailing.refresh_from_db()
        if mailing.next_run_at is None or mailing.next_run_at + lateness > until:
            return
        tick_at(mailing.next_run_at + lateness)
    raise AssertionError("the schedule did not advance")


@pytest.mark.django_db
class TestDue:
    def test_a_mailing_created_inside_its_window_starts_at_the_next_tick(self, owner: User) -> None:
        created = local(MSK, 2026, 5, 4, 10, 17, 23)
        mailing = make_mailing(
            owner,
            start_at=local(MSK, 2026, 5, 1, 9, 0),
            end_at=local(MSK, 2026, 6, 1, 0, 0),
            periodicity=Mailing.Periodicity.DAILY,
            created_at=created,
        )
        assert mailing.next_run_at == created

        result = tick_at(created + timedelta(seconds=0.4))

        assert result.started == 1
        [attempt] = runs(mailing)
        assert attempt.scheduled_for == created
        assert attempt.total_count == 2
        assert Delivery.objects.filter(attempt=attempt, state=Delivery.State.PENDING).count() == 2
        mailing.refresh_from_db()
        assert mailing.status == Mailing.Status.RUNNING
        # The calendar continues from start_at's 09:00, not from the creation time.
        assert mailing.next_run_at == local(MSK, 2026, 5, 5, 9, 0)
        assert skipped(mailing) == []

    def test_a_future_start_waits_for_start_at_and_then_starts_by_itself(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 12, 0)
        mailing = make_mailing(
            owner, start_at=start, end_at=start + timedelta(days=1), created_at=start - timedelta(hours=2)
        )
        assert mailing.next_run_at == start

        assert tick_at(start - timedelta(seconds=1)).started == 0
        assert runs(mailing) == []
        mailing.refresh_from_db()
        assert mailing.status == Mailing.Status.CREATED

        assert tick_at(start + timedelta(milliseconds=5)).started == 1
        [attempt] = runs(mailing)
        assert attempt.scheduled_for == start

    def test_a_disabled_mailing_is_not_started(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 12, 0)
        mailing = make_mailing(owner, start_at=start, end_at=start + timedelta(days=1))
        Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)

        assert tick_at(start + timedelta(seconds=1)).started == 0
        assert not Attempt.objects.filter(mailing=mailing).exists()

    def test_a_blocked_owners_mailing_is_not_started(self, owner: User, manager: User) -> None:
        start = local(MSK, 2026, 5, 4, 12, 0)
        mailing = make_mailing(owner, start_at=start, end_at=start + timedelta(days=1))
        owner.is_active = False
        owner.blocked_at = start - timedelta(hours=1)
        owner.blocked_by = manager
        owner.save()

        assert tick_at(start + timedelta(seconds=1)).started == 0
        assert not Attempt.objects.filter(mailing=mailing).exists()

    def test_an_inactive_owners_mailing_is_not_started(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 12, 0)
        mailing = make_mailing(owner, start_at=start, end_at=start + timedelta(days=1))
        owner.is_active = False
        owner.save()

        assert tick_at(start + timedelta(seconds=1)).started == 0
        assert not Attempt.objects.filter(mailing=mailing).exists()

    def test_a_once_mailing_sends_once(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 12, 0)
        mailing = make_mailing(owner, start_at=start, end_at=start + timedelta(days=3))

        tick_at(start + timedelta(seconds=0.2))
        mailing.refresh_from_db()
        assert mailing.next_run_at is None
        assert mailing.status == Mailing.Status.RUNNING
        for later in (timedelta(seconds=1), timedelta(hours=1), timedelta(days=2)):
            assert tick_at(start + later).started == 0

        assert [a.scheduled_for for a in runs(mailing)] == [start]


@pytest.mark.django_db
class TestCalendar:
    def test_daily_runs_every_day_at_the_start_time(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 30)
        mailing = make_mailing(
            owner,
            start_at=start,
            end_at=local(MSK, 2026, 5, 8, 9, 30),
            periodicity=Mailing.Periodicity.DAILY,
            created_at=start - timedelta(days=1),
        )
        run_through(mailing, until=local(MSK, 2026, 6, 1))

        assert [a.scheduled_for for a in runs(mailing)] == [start + timedelta(days=d) for d in range(4)]
        mailing.refresh_from_db()
        # The slot at end_at itself is outside the window.
        assert mailing.next_run_at is None

    def test_weekly_runs_every_seven_days(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 30)
        mailing = make_mailing(
            owner,
            start_at=start,
            end_at=local(MSK, 2026, 6, 1, 0, 0),
            periodicity=Mailing.Periodicity.WEEKLY,
            created_at=start - timedelta(days=1),
        )
        run_through(mailing, until=local(MSK, 2026, 7, 1))

        assert [a.scheduled_for for a in runs(mailing)] == [start + timedelta(weeks=w) for w in range(4)]

    def test_monthly_on_the_31st_uses_the_last_day_of_shorter_months_and_returns_to_the_31st(self, owner: User) -> None:
        start = local(MSK, 2027, 1, 31, 10, 0)
        mailing = make_mailing(
            owner,
            start_at=start,
            end_at=local(MSK, 2027, 8, 1, 0, 0),
            periodicity=Mailing.Periodicity.MONTHLY,
            created_at=start - timedelta(days=1),
        )
        run_through(mailing, until=local(MSK, 2027, 9, 1))

        assert [slot(a).astimezone(MSK).date().isoformat() for a in runs(mailing)] == [
            "2027-01-31",
            "2027-02-28",
            "2027-03-31",
            "2027-04-30",
            "2027-05-31",
            "2027-06-30",
            "2027-07-31",
        ]
        assert {slot(a).astimezone(MSK).time().isoformat() for a in runs(mailing)} == {"10:00:00"}

    def test_monthly_on_the_31st_in_a_leap_year_gives_february_29(self) -> None:
        start = local(MSK, 2028, 1, 31, 10, 0)
        assert next_occurrence(
            start_at=start,
            end_at=local(MSK, 2029, 1, 1),
            periodicity=Mailing.Periodicity.MONTHLY,
            after=start,
        ) == local(MSK, 2028, 2, 29, 10, 0)

    def test_a_daily_mailing_keeps_its_local_time_across_the_spring_dst_change(
        self, owner: User, settings: Settings
    ) -> None:
        settings.TIME_ZONE = "Europe/Berlin"
        # Summer time starts on Sunday 29 March 2026 at 02:00 (clocks go to 03:00).
        start = local(BERLIN, 2026, 3, 26, 9, 0)
        mailing = make_mailing(
            owner,
            start_at=start,
            end_at=local(BERLIN, 2026, 4, 2, 0, 0),
            periodicity=Mailing.Periodicity.DAILY,
            created_at=start - timedelta(days=1),
        )
        # Ticks through the whole week, not just at the slots: a doubled run
        # would show up as a second attempt on some day.
        tick_through(start - timedelta(hours=1), local(BERLIN, 2026, 4, 3), step=timedelta(minutes=30))

        slots = [slot(a).astimezone(BERLIN) for a in runs(mailing)]
        assert [s.date().isoformat() for s in slots] == [f"2026-03-{d}" for d in range(26, 32)] + ["2026-04-01"]
        assert {s.time().isoformat() for s in slots} == {"09:00:00"}
        assert skipped(mailing) == []

    def test_a_slot_in_the_missing_dst_hour_runs_once_an_hour_later(self, owner: User, settings: Settings) -> None:
        settings.TIME_ZONE = "Europe/Berlin"
        start = local(BERLIN, 2026, 3, 27, 2, 30)
        mailing = make_mailing(
            owner,
            start_at=start,
            end_at=local(BERLIN, 2026, 3, 31, 12, 0),
            periodicity=Mailing.Periodicity.DAILY,
            created_at=start - timedelta(days=1),
        )
        tick_through(
            start - timedelta(minutes=10),
            local(BERLIN, 2026, 4, 1),
            step=timedelta(minutes=30),
            dense=(local(BERLIN, 2026, 3, 29, 0, 0), local(BERLIN, 2026, 3, 29, 6, 0)),
        )

        slots = [slot(a).astimezone(BERLIN) for a in runs(mailing)]
        assert [s.strftime("%m-%d %H:%M") for s in slots] == [
            "03-27 02:30",
            "03-28 02:30",
            "03-29 03:30",  # 02:30 does not exist that night
            "03-30 02:30",
            "03-31 02:30",
        ]

    def test_a_slot_in_the_repeated_dst_hour_runs_once(self, owner: User, settings: Settings) -> None:
        settings.TIME_ZONE = "Europe/Berlin"
        # Winter time returns on Sunday 25 October 2026: 02:00-03:00 happens twice.
        start = local(BERLIN, 2026, 10, 23, 2, 30)
        mailing = make_mailing(
            owner,
            start_at=start,
            end_at=local(BERLIN, 2026, 10, 27, 12, 0),
            periodicity=Mailing.Periodicity.DAILY,
            created_at=start - timedelta(days=1),
        )
        tick_through(
            start - timedelta(minutes=10),
            local(BERLIN, 2026, 10, 28),
            step=timedelta(minutes=30),
            # 00:00 CEST to 04:00 CET: the repeated hour is ticked through twice.
            dense=(local(BERLIN, 2026, 10, 25, 0, 0), local(BERLIN, 2026, 10, 25, 4, 0)),
        )

        slots = [slot(a).astimezone(BERLIN) for a in runs(mailing)]
        assert [s.strftime("%m-%d %H:%M %Z") for s in slots] == [
            "10-23 02:30 CEST",
            "10-24 02:30 CEST",
            "10-25 02:30 CEST",
            "10-26 02:30 CET",
            "10-27 02:30 CET",
        ]

    def test_the_calendar_follows_the_service_time_zone(self, settings: Settings) -> None:
        settings.TIME_ZONE = "Europe/Berlin"
        start = local(BERLIN, 2026, 3, 28, 9, 0)
        following = next_occurrence(
            start_at=start, end_at=start + timedelta(days=30), periodicity=Mailing.Periodicity.DAILY, after=start
        )
        # 23 hours later in absolute time, 09:00 on the wall clock.
        assert following == local(BERLIN, 2026, 3, 29, 9, 0)
        assert following is not None and following - start == timedelta(hours=23)


@pytest.mark.django_db
class TestFinish:
    def test_a_mailing_is_finished_when_end_at_passes(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        end = local(MSK, 2026, 5, 6, 12, 0)
        mailing = make_mailing(
            owner, start_at=start, end_at=end, periodicity=Mailing.Periodicity.DAILY, created_at=start
        )
        run_through(mailing, until=end - timedelta(seconds=1))
        mailing.refresh_from_db()
        assert mailing.status == Mailing.Status.RUNNING
        assert mailing.next_run_at is None

        assert tick_at(end - timedelta(seconds=1)).finished == 0
        assert tick_at(end + timedelta(milliseconds=1)).finished == 1

        mailing.refresh_from_db()
        assert mailing.status == Mailing.Status.FINISHED
        assert mailing.get_status_display() == "Завершена"
        assert mailing.next_run_at is None
        assert len(runs(mailing)) == 3

    def test_a_mailing_that_never_ran_is_finished_too_and_its_next_run_cleared(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        mailing = make_mailing(owner, start_at=start, end_at=start + timedelta(hours=1), created_at=start)
        Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)

        with time_machine.travel(start + timedelta(hours=2), tick=False):
            assert mailings_finish_expired(now=timezone.now()) == 1

        mailing.refresh_from_db()
        assert mailing.status == Mailing.Status.FINISHED
        assert mailing.next_run_at is None
        assert not Attempt.objects.filter(mailing=mailing).exists()


@pytest.mark.django_db
class TestDowntime:
    def test_missed_slots_are_recorded_as_skipped_and_one_late_run_is_made(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        mailing = make_mailing(
            owner,
            start_at=start,
            end_at=local(MSK, 2026, 6, 1),
            periodicity=Mailing.Periodicity.DAILY,
            created_at=start - timedelta(days=1),
        )
        tick_at(start + timedelta(seconds=0.1))
        # The scheduler is away from the 4th until the 8th at 15:00: the slots
        # of the 5th, 6th, 7th and 8th (09:00) were all missed.
        back = local(MSK, 2026, 5, 8, 15, 0)
        result = tick_at(back)

        assert result.started == 1
        assert result.skipped == 3
        assert [a.scheduled_for for a in runs(mailing)] == [start, local(MSK, 2026, 5, 8, 9, 0)]
        late = runs(mailing)[-1]
        assert "опозданием" in late.note_text
        assert [a.scheduled_for for a in skipped(mailing)] == [local(MSK, 2026, 5, d, 9, 0) for d in (5, 6, 7)]
        assert {a.note_text for a in skipped(mailing)} == {"пропущено: сервис был недоступен"}
        assert not Delivery.objects.filter(attempt__status=Attempt.Status.SKIPPED).exists()
        mailing.refresh_from_db()
        assert mailing.next_run_at == local(MSK, 2026, 5, 9, 9, 0)

        # Ticking again at once starts nothing more.
        again = tick_at(back + timedelta(seconds=1))
        assert (again.started, again.skipped) == (0, 0)

    def test_only_the_most_recent_missed_slots_are_recorded(self, owner: User) -> None:
        start = local(MSK, 2026, 1, 1, 9, 0)
        mailing = make_mailing(
            owner,
            start_at=start,
            end_at=local(MSK, 2028, 1, 1),
            periodicity=Mailing.Periodicity.DAILY,
            created_at=start - timedelta(days=1),
        )
        # Away for the whole of 2026: its 365 slots were missed; the one of 1 January 2027 is run late.
        result = tick_at(local(MSK, 2027, 1, 1, 9, 0, 5))

        assert result.started == 1
        assert result.skipped == MISSED_SLOTS_RECORDED
        recorded = skipped(mailing)
        assert len(recorded) == MISSED_SLOTS_RECORDED
        assert recorded[-1].scheduled_for == local(MSK, 2026, 12, 31, 9, 0)
        assert recorded[0].scheduled_for == local(MSK, 2026, 12, 31, 9, 0) - timedelta(days=MISSED_SLOTS_RECORDED - 1)
        assert "ещё 265 более ранних" in recorded[0].note_text
        assert [a.scheduled_for for a in runs(mailing)] == [local(MSK, 2027, 1, 1, 9, 0)]

    def test_nothing_is_sent_when_the_window_closed_during_the_downtime(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        end = local(MSK, 2026, 5, 7, 0, 0)
        mailing = make_mailing(
            owner, start_at=start, end_at=end, periodicity=Mailing.Periodicity.DAILY, created_at=start
        )
        tick_at(start + timedelta(seconds=0.1))

        result = tick_at(local(MSK, 2026, 5, 10, 12, 0))

        assert result.started == 0
        assert result.finished == 1
        assert [a.scheduled_for for a in runs(mailing)] == [start]
        assert [a.scheduled_for for a in skipped(mailing)] == [
            local(MSK, 2026, 5, 5, 9, 0),
            local(MSK, 2026, 5, 6, 9, 0),
        ]
        mailing.refresh_from_db()
        assert mailing.status == Mailing.Status.FINISHED
        assert mailing.next_run_at is None

    def test_a_once_mailing_missed_entirely_is_skipped_not_sent(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        mailing = make_mailing(owner, start_at=start, end_at=start + timedelta(hours=1), created_at=start)

        tick_at(start + timedelta(hours=3))

        assert runs(mailing) == []
        assert [a.scheduled_for for a in skipped(mailing)] == [start]

    def test_a_once_mailing_late_but_inside_its_window_is_sent_once(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        mailing = make_mailing(owner, start_at=start, end_at=start + timedelta(days=1), created_at=start)

        assert tick_at(start + timedelta(hours=3)).started == 1
        assert tick_at(start + timedelta(hours=4)).started == 0
        assert [a.scheduled_for for a in runs(mailing)] == [start]


@pytest.mark.django_db
class TestClaims:
    def test_a_stale_next_run_at_loses_the_compare_and_set(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        make_mailing(owner, start_at=start, end_at=start + timedelta(days=5), periodicity=Mailing.Periodicity.DAILY)
        with time_machine.travel(start + timedelta(seconds=1), tick=False):
            stale = list(scheduling.mailings_due(now=timezone.now()))
            assert mailings_start_due(now=timezone.now()).started == 1
            # A second scheduler that read the row before the first one's UPDATE.
            with mock.patch.object(scheduling, "mailings_due") as due:
                due.return_value.exclude.return_value.__getitem__.return_value = stale
                assert mailings_start_due(now=timezone.now()).started == 0
        assert Attempt.objects.count() == 1

    def test_an_existing_attempt_for_the_slot_means_someone_else_started_it(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        mailing = make_mailing(
            owner, start_at=start, end_at=start + timedelta(days=5), periodicity=Mailing.Periodicity.DAILY
        )
        Attempt.objects.create(mailing=mailing, trigger=Attempt.Trigger.SCHEDULE, scheduled_for=start)

        result = tick_at(start + timedelta(seconds=1))

        assert result.started == 0
        assert Attempt.objects.filter(mailing=mailing).count() == 1
        mailing.refresh_from_db()
        # The claim stands: the next tick does not try the same slot again.
        assert mailing.next_run_at == start + timedelta(days=1)

    def test_one_bad_mailing_does_not_stop_the_others(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        first = make_mailing(owner, start_at=start, end_at=start + timedelta(days=1))
        second = make_mailing(owner, start_at=start, end_at=start + timedelta(days=1))
        real_start = scheduling.attempt_start

        def flaky_start(*, mailing: Mailing, **kwargs: Any) -> Attempt:
            if mailing.pk == first.pk:
                raise ValueError("bad row")
            return real_start(mailing=mailing, **kwargs)

        with mock.patch.object(scheduling, "attempt_start", flaky_start):
            result = tick_at(start + timedelta(seconds=1))

        assert result.started == 1
        assert runs(second) and not runs(first)

    def test_the_tick_sweeps_leases_and_wakes_retries_of_real_runs(self, owner: User) -> None:
        now = timezone.now()
        names = ("lost", "doubt", "later")
        _mailing, attempt = make_run(owner, [f"{name}@example.com" for name in names])
        lost, doubt, later = (Delivery.objects.get(attempt=attempt, email=f"{name}@example.com") for name in names)
        lease = {"state": Delivery.State.SENDING, "lease_owner": "killed", "lease_until": now - timedelta(seconds=1)}
        Delivery.objects.filter(pk=lost.pk).update(**lease)
        Delivery.objects.filter(pk=doubt.pk).update(**lease, handed_over=True)
        Delivery.objects.filter(pk=later.pk).update(state=Delivery.State.RETRY_WAIT, next_try_at=now - timedelta(1))
        Attempt.objects.filter(pk=attempt.pk).update(wake_at=None)

        result = tick_at(now)

        assert result.leases_swept == 2
        states = dict(Delivery.objects.filter(attempt=attempt).values_list("email", "state"))
        assert states == {
            "lost@example.com": Delivery.State.PENDING,
            "doubt@example.com": Delivery.State.UNKNOWN,
            "later@example.com": Delivery.State.RETRY_WAIT,
        }
        # The sweep re-enqueued the attempt (its wake_at moved ahead), so the wake found nothing left to wake.
        attempt.refresh_from_db()
        assert attempt.wake_at is not None and attempt.wake_at > now
        assert result.retries_woken == 0

    def test_the_tick_wakes_a_run_with_a_due_retry_once(self, owner: User) -> None:
        now = timezone.now()
        _mailing, attempt = make_run(owner, ["later@example.com"])
        Delivery.objects.filter(attempt=attempt).update(
            state=Delivery.State.RETRY_WAIT, next_try_at=now - timedelta(seconds=1)
        )
        Attempt.objects.filter(pk=attempt.pk).update(wake_at=None)

        assert tick_at(now).retries_woken == 1
        assert tick_at(now + timedelta(seconds=1)).retries_woken == 0


@pytest.mark.django_db
class TestReschedule:
    def test_a_never_run_mailing_moved_to_a_later_start_is_due_at_the_new_start(self, owner: User) -> None:
        now = local(MSK, 2026, 5, 4, 9, 0)
        mailing = make_mailing(owner, start_at=now + timedelta(hours=1), end_at=now + timedelta(days=1), created_at=now)
        mailing.start_at = now + timedelta(hours=5)
        mailing.save()

        assert mailing_reschedule(mailing=mailing, now=now) == now + timedelta(hours=5)
        mailing.refresh_from_db()
        assert mailing.next_run_at == now + timedelta(hours=5)

    def test_a_never_run_mailing_moved_into_an_open_window_is_due_now(self, owner: User) -> None:
        now = local(MSK, 2026, 5, 4, 9, 0)
        mailing = make_mailing(owner, start_at=now + timedelta(hours=1), end_at=now + timedelta(days=1), created_at=now)
        mailing.start_at = now - timedelta(hours=1)
        mailing.save()

        assert mailing_reschedule(mailing=mailing, now=now) == now
        assert tick_at(now + timedelta(seconds=1)).started == 1

    def test_changing_the_periodicity_of_a_running_mailing_moves_its_next_run_to_the_new_calendar(
        self, owner: User
    ) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        mailing = make_mailing(
            owner, start_at=start, end_at=local(MSK, 2026, 8, 1), periodicity=Mailing.Periodicity.WEEKLY
        )
        tick_at(start + timedelta(seconds=1))
        mailing.refresh_from_db()
        assert mailing.next_run_at == start + timedelta(weeks=1)

        now = local(MSK, 2026, 5, 5, 14, 0)
        mailing.periodicity = Mailing.Periodicity.DAILY
        mailing.save()
        assert mailing_reschedule(mailing=mailing, now=now) == local(MSK, 2026, 5, 6, 9, 0)
        # No immediate repeat of a run that already happened.
        assert tick_at(now + timedelta(seconds=1)).started == 0

    def test_moving_the_end_into_the_past_finishes_the_mailing(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        mailing = make_mailing(
            owner, start_at=start, end_at=local(MSK, 2026, 8, 1), periodicity=Mailing.Periodicity.DAILY
        )
        tick_at(start + timedelta(seconds=1))
        now = local(MSK, 2026, 5, 6, 14, 0)
        mailing.end_at = local(MSK, 2026, 5, 6, 12, 0)
        mailing.save()

        assert mailing_reschedule(mailing=mailing, now=now) is None
        mailing.refresh_from_db()
        assert mailing.status == Mailing.Status.FINISHED
        assert mailing.next_run_at is None

    def test_reopening_a_finished_mailing_continues_its_calendar(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        end = local(MSK, 2026, 5, 5, 0, 0)
        mailing = make_mailing(owner, start_at=start, end_at=end, periodicity=Mailing.Periodicity.DAILY)
        tick_at(start + timedelta(seconds=1))
        tick_at(end + timedelta(hours=1))
        mailing.refresh_from_db()
        assert mailing.status == Mailing.Status.FINISHED

        mailing.end_at = local(MSK, 2026, 5, 10)
        mailing.save()
        now = end + timedelta(hours=2)
        assert mailing_reschedule(mailing=mailing, now=now) == local(MSK, 2026, 5, 5, 9, 0)
        mailing.refresh_from_db()
        assert mailing.status == Mailing.Status.RUNNING

    def test_a_once_mailing_that_has_run_runs_again_only_if_moved_into_the_future(self, owner: User) -> None:
        start = local(MSK, 2026, 5, 4, 9, 0)
        mailing = make_mailing(owner, start_at=start, end_at=start + timedelta(days=5))
        tick_at(start + timedelta(seconds=1))
        now = start + timedelta(hours=1)

        mailing.end_at = start + timedelta(days=6)
        mailing.save()
        assert mailing_reschedule(mailing=mailing, now=now) is None

        mailing.start_at = now + timedelta(days=1)
        mailing.save()
        assert mailing_reschedule(mailing=mailing, now=now) == now + timedelta(days=1)


# --- two schedulers at once ------------------------------------------------------------------------------------------


def _in_threads(count: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            # Each thread has its own connection; close it so the test database can be dropped.
            connection.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


@pytest.fixture
def no_enqueue() -> Iterator[None]:
    # The delivery task is not under test here; a real enqueue would need the
    # task backend in every thread (and Redis on the server leg).
    with mock.patch("mailings.delivery.runs.enqueue_attempt_delivery"):
        yield


@pytest.mark.django_db(transaction=True)
def test_concurrent_schedulers_start_every_slot_exactly_once(owner: User, no_enqueue: None) -> None:
    start = timezone.now().replace(microsecond=0) - timedelta(days=10)
    mailings = [
        make_mailing(
            owner,
            start_at=start + timedelta(minutes=i),
            end_at=start + timedelta(days=40),
            periodicity=Mailing.Periodicity.DAILY,
            created_at=start - timedelta(days=1),
            recipients=1,
        )
        for i in range(12)
    ]
    schedulers = 4
    barrier = threading.Barrier(schedulers)
    # Ticks a day apart, the same instants in every "scheduler": all of them
    # race for every slot (each thread has its own database connection).
    ticks = [start + timedelta(days=d, hours=1) for d in range(6)]
    started = [0] * schedulers

    def scheduler(index: int) -> None:
        for moment in ticks:
            barrier.wait(timeout=60)
            started[index] += scheduling.mailings_start_due(now=moment).started

    _in_threads(schedulers, scheduler)

    assert sum(started) == len(mailings) * len(ticks)
    for mailing in mailings:
        slots = [a.scheduled_for for a in runs(mailing)]
        assert slots == [mailing.start_at + timedelta(days=d) for d in range(len(ticks))]
        assert Delivery.objects.filter(attempt__mailing=mailing).count() == len(ticks)


@pytest.mark.django_db(transaction=True)
def test_concurrent_schedulers_after_downtime_record_each_missed_slot_once(owner: User, no_enqueue: None) -> None:
    start = timezone.now().replace(microsecond=0) - timedelta(days=10)
    mailings = [
        make_mailing(
            owner,
            start_at=start + timedelta(minutes=i),
            end_at=start + timedelta(days=40),
            periodicity=Mailing.Periodicity.DAILY,
            created_at=start - timedelta(days=1),
            recipients=1,
        )
        for i in range(6)
    ]
    schedulers = 4
    barrier = threading.Barrier(schedulers)
    back = start + timedelta(days=5, hours=1)

    def scheduler(index: int) -> None:
        barrier.wait(timeout=60)
        scheduling.scheduler_tick(now=back)

    _in_threads(schedulers, scheduler)

    for mailing in mailings:
        assert [a.scheduled_for for a in runs(mailing)] == [mailing.start_at + timedelta(days=5)]
        assert [a.scheduled_for for a in skipped(mailing)] == [mailing.start_at + timedelta(days=d) for d in range(5)]


@pytest.mark.django_db
def test_one_bad_expired_mailing_does_not_stop_the_tick(owner: User) -> None:
    start = local(MSK, 2026, 5, 4, 9, 0)
    end = local(MSK, 2026, 5, 6, 12, 0)
    bad = make_mailing(owner, start_at=start, end_at=end, periodicity=Mailing.Periodicity.DAILY, created_at=start)
    good = make_mailing(owner, start_at=start, end_at=end, periodicity=Mailing.Periodicity.DAILY, created_at=start)
    # A value no calendar knows (written past the form's choices): computing its slots raises.
    Mailing.objects.filter(pk=bad.pk).update(periodicity="hourly")
    due = make_mailing(owner, start_at=end + timedelta(hours=1), end_at=end + timedelta(days=1), created_at=start)

    # The scheduler was away for the whole window of the first two.
    result = tick_at(end + timedelta(hours=1, seconds=1))

    assert result.finished == 2 and result.started == 1
    assert {m.status for m in Mailing.objects.filter(pk__in=[bad.pk, good.pk])} == {Mailing.Status.FINISHED}
    assert len(skipped(good)) == 3 and skipped(bad) == []
    assert len(runs(due)) == 1
