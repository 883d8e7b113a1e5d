"""Send windows in the delivery engine: a run sends only inside its mailing's window on the owner's clock,
waits outside it, and a restart (lease sweep, scheduler wake) never sends outside it either.

Real parts: an aiosmtpd server (tests/support.py) and the task queue drained by run_tasks; time moved with
time-machine. Each message's arrival is stamped on the server with the (travelled) clock.
"""

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from mailings.delivery.engine import StopReason, attempt_deliver
from mailings.delivery.schedule import mailing_initial_next_run, scheduler_tick
from mailings.delivery.status import mailing_sending_status
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from mailings.tests.sending_support import fast_settings, make_run, states
from tests.support import SmtpServer, run_tasks
from users.models import User

pytestmark = pytest.mark.django_db

S = Delivery.State
NSK = ZoneInfo("Asia/Novosibirsk")
BERLIN = ZoneInfo("Europe/Berlin")
FIVE = [f"{x}@example.com" for x in "abcde"]


def nsk(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    # November 2026: the 23rd is a Monday.
    return datetime(2026, 11, day, hour, minute, second, tzinfo=NSK)


def stamp_arrivals(server: SmtpServer) -> list[datetime]:
    """The clock (as travelled) at every message the server accepts."""
    arrivals: list[datetime] = []

    def on_data(rcpt_tos: list[str]) -> None:
        arrivals.extend(timezone.now() for _ in rcpt_tos)

    server.handler.on_data = on_data
    return arrivals


def novosibirsk_owner(owner: User) -> User:
    owner.time_zone = "Asia/Novosibirsk"
    owner.save(update_fields=["time_zone"])
    return owner


def office_hours(mailing: Mailing) -> Mailing:
    mailing.send_window_start, mailing.send_window_end, mailing.send_window_days = time(9), time(18), "12345"
    mailing.save(update_fields=["send_window_start", "send_window_end", "send_window_days"])
    return mailing


def in_office_hours(moment: datetime) -> bool:
    local = moment.astimezone(NSK)
    return local.isoweekday() <= 5 and time(9) <= local.time() < time(18)


@pytest.fixture
def daily_server(settings: Any) -> Iterator[SmtpServer]:
    """A real SMTP server for a daily mailing (each recipient gets one message a day: not the `server` fixture,
    which allows a recipient one message in all)."""
    smtp_server = SmtpServer().start()
    fast_settings(settings, port=smtp_server.controller.port)
    try:
        yield smtp_server
    finally:
        smtp_server.stop()


def test_a_novosibirsk_daily_mailing_with_a_weekday_window_sends_only_then(
    daily_server: SmtpServer, owner: User, settings: Any
) -> None:
    """The issue's "done when": 09:00–18:00 on weekdays in Novosibirsk, a daily run at 08:00 there."""
    server = daily_server
    arrivals = stamp_arrivals(server)
    owner = novosibirsk_owner(owner)
    message = Message.objects.create(owner=owner, subject="Новости", body="Текст")
    # Daily at 08:00 Novosibirsk time (01:00 UTC, 04:00 in Moscow), from Monday to Saturday evening.
    mailing = Mailing(
        owner=owner,
        message=message,
        start_at=nsk(23, 8),
        end_at=nsk(28, 20),
        periodicity=Mailing.Periodicity.DAILY,
        send_window_start=time(9),
        send_window_end=time(18),
        send_window_days="12345",
    )
    mailing.next_run_at = mailing_initial_next_run(mailing=mailing, now=nsk(22, 12))
    mailing.save()
    mailing.recipients.set(
        [Recipient.objects.create(owner=owner, email=e, full_name=f"Получатель {e[0]}") for e in FIVE[:2]]
    )

    # The scheduler and a worker every half hour for a week, starting Sunday evening.
    moment = nsk(22, 20)
    while moment < nsk(29, 20):
        with time_machine.travel(moment, tick=False):
            scheduler_tick(now=timezone.now())
            run_tasks()
        moment += timedelta(minutes=30)

    assert arrivals, "nothing was sent at all"
    outside = [a.astimezone(NSK).isoformat() for a in arrivals if not in_office_hours(a)]
    assert outside == []
    # Monday to Friday: each day's run waited from 08:00 and went out when the window opened at 09:00.
    assert sorted({a.astimezone(NSK).date().day for a in arrivals}) == [23, 24, 25, 26, 27]
    assert {a.astimezone(NSK).time() for a in arrivals} == {time(9)}
    assert len(server.messages) == 5 * 2
    attempts = list(mailing.attempts.order_by("scheduled_for"))
    assert [a.scheduled_for.astimezone(NSK).day for a in attempts if a.scheduled_for] == [23, 24, 25, 26, 27, 28]
    # Saturday's run could only send on Monday, after the mailing's end: the slot is skipped, nobody is mailed.
    saturday = attempts[-1]
    assert (saturday.status, saturday.note) == (Attempt.Status.SKIPPED, "outside_send_window")
    assert not Delivery.objects.filter(attempt=saturday).exists()


def test_a_daily_mailing_skips_the_weekend_instead_of_sending_three_messages_on_monday(
    daily_server: SmtpServer, owner: User
) -> None:
    arrivals = stamp_arrivals(daily_server)
    owner = novosibirsk_owner(owner)
    message = Message.objects.create(owner=owner, subject="Новости", body="Текст")
    mailing = Mailing(
        owner=owner,
        message=message,
        start_at=nsk(27, 8),
        end_at=nsk(27, 8) + timedelta(days=60),
        periodicity=Mailing.Periodicity.DAILY,
        send_window_start=time(9),
        send_window_end=time(18),
        send_window_days="12345",
    )
    mailing.next_run_at = mailing_initial_next_run(mailing=mailing, now=nsk(26, 12))
    mailing.save()
    mailing.recipients.set([Recipient.objects.create(owner=owner, email="a@example.com", full_name="А")])

    # Friday 07:30 to Tuesday 12:00, every half hour.
    moment = nsk(27, 7, 30)
    while moment < datetime(2026, 12, 1, 12, tzinfo=NSK):
        with time_machine.travel(moment, tick=False):
            scheduler_tick(now=timezone.now())
            run_tasks()
        moment += timedelta(minutes=30)

    # One message on each of Friday, Monday and Tuesday; Saturday's and Sunday's slots are skipped, with why.
    assert [a.astimezone(NSK).strftime("%a %H:%M") for a in sorted(arrivals)] == ["Fri 09:00", "Mon 09:00", "Tue 09:00"]
    by_day = {a.scheduled_for.astimezone(NSK).strftime("%a"): a for a in mailing.attempts.all() if a.scheduled_for}
    assert {day: (a.status, a.note) for day, a in by_day.items() if day in ("Sat", "Sun")} == {
        "Sat": (Attempt.Status.SKIPPED, "outside_send_window"),
        "Sun": (Attempt.Status.SKIPPED, "outside_send_window"),
    }
    assert {by_day[day].status for day in ("Fri", "Mon", "Tue")} == {Attempt.Status.SUCCESS}


def test_a_run_started_at_night_waits_and_the_page_says_until_when(
    server: SmtpServer, owner: User, settings: Any
) -> None:
    owner = novosibirsk_owner(owner)
    with time_machine.travel(nsk(23, 6), tick=False):
        mailing, attempt = make_run(owner, FIVE)
        office_hours(mailing)
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.WINDOW
        assert server.messages == []
        waiting = Delivery.objects.filter(attempt=attempt)
        assert set(waiting.values_list("state", flat=True)) == {S.PENDING}
        assert set(waiting.values_list("next_try_at", flat=True)) == {nsk(23, 9)}
        status = mailing_sending_status(mailing=mailing)
        assert status.window_opens_at == nsk(23, 9)
        assert (status.window_opens_label, status.window_zone) == ("09:00", "Asia/Novosibirsk")
    with time_machine.travel(nsk(23, 8, 59), tick=False):
        # Before the window opens the scheduler finds nothing due: no task, nothing sent.
        assert scheduler_tick(now=timezone.now()).retries_woken == 0
        run_tasks()
    assert server.messages == []
    with time_machine.travel(nsk(23, 9), tick=False):
        assert scheduler_tick(now=timezone.now()).retries_woken == 1
        run_tasks()
    assert set(states(attempt).values()) == {S.SENT}
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUCCESS


def test_the_attempt_page_says_it_waits_for_the_window(client: Any, owner: User, settings: Any) -> None:
    owner = novosibirsk_owner(owner)
    client.force_login(owner)
    with time_machine.travel(nsk(27, 19), tick=False):
        mailing, attempt = make_run(owner, FIVE)
        office_hours(mailing)
        page = client.get(
            reverse("mailings:attempt_detail", args=[attempt.pk]), HTTP_ACCEPT_LANGUAGE="ru"
        ).content.decode()
        # Friday evening: the next opening is Monday, so the date is named too.
        assert "Ждёт окна отправки: с 30.11.2026 09:00 (Asia/Novosibirsk)." in page
    with time_machine.travel(nsk(30, 6), tick=False):
        page = client.get(
            reverse("mailings:attempt_detail", args=[attempt.pk]), HTTP_ACCEPT_LANGUAGE="ru"
        ).content.decode()
        assert "Ждёт окна отправки: с 09:00 (Asia/Novosibirsk)." in page


def test_a_restart_outside_the_window_sends_nothing_until_it_opens(
    server: SmtpServer, owner: User, settings: Any
) -> None:
    """A worker killed at 17:59 leaves leases; the sweep after 18:00 hands them back, and nothing goes out."""
    arrivals = stamp_arrivals(server)
    owner = novosibirsk_owner(owner)
    with time_machine.travel(nsk(23, 17, 59), tick=False):
        mailing, attempt = make_run(owner, FIVE)
        office_hours(mailing)
        # What a killed worker leaves: claimed, leased for a minute, never handed to the server.
        Delivery.objects.filter(attempt=attempt).update(
            state=S.SENDING, lease_owner="dead-worker", lease_until=nsk(23, 18, 0, 30)
        )
        Attempt.objects.filter(pk=attempt.pk).update(wake_at=None)
    with time_machine.travel(nsk(23, 18, 5), tick=False):
        result = scheduler_tick(now=timezone.now())
        assert result.leases_swept == 5
        run_tasks()
        # The scheduler's wake (another path to a task) finds them not due.
        assert scheduler_tick(now=timezone.now()).retries_woken == 0
        run_tasks()
    with time_machine.travel(nsk(24, 8, 59, 59), tick=False):
        scheduler_tick(now=timezone.now())
        run_tasks()
    assert arrivals == []
    assert set(Delivery.objects.filter(attempt=attempt).values_list("next_try_at", flat=True)) == {nsk(24, 9)}
    with time_machine.travel(nsk(24, 9), tick=False):
        scheduler_tick(now=timezone.now())
        run_tasks()
    assert len(arrivals) == 5 and all(in_office_hours(a) for a in arrivals)


def test_the_window_closing_mid_run_stops_the_sending_until_it_opens_again(
    server: SmtpServer, owner: User, settings: Any
) -> None:
    arrivals = stamp_arrivals(server)
    owner = novosibirsk_owner(owner)
    # Two messages a second: the clock passes 18:00 while the run is still sending.
    settings.SEND_RATE_PER_SECOND = 2
    with time_machine.travel(nsk(23, 17, 59, 59), tick=True):
        mailing, attempt = make_run(owner, FIVE)
        office_hours(mailing)
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.WINDOW
    assert 1 <= len(arrivals) < 5
    assert all(in_office_hours(a) for a in arrivals)
    waiting = Delivery.objects.filter(attempt=attempt).exclude(state=S.SENT)
    assert waiting.count() == 5 - len(arrivals)
    assert set(waiting.values_list("state", "next_try_at")) == {(S.PENDING, nsk(24, 9))}
    with time_machine.travel(nsk(24, 9), tick=False):
        scheduler_tick(now=timezone.now())
        run_tasks()
    assert set(states(attempt).values()) == {S.SENT}
    assert all(in_office_hours(a) for a in arrivals) and len(arrivals) == 5


def test_the_expected_finish_counts_the_window_and_the_limits(server: SmtpServer, owner: User, settings: Any) -> None:
    owner = novosibirsk_owner(owner)
    settings.SEND_RATE_PER_HOUR = 2
    with time_machine.travel(nsk(27, 17, 30), tick=False):
        mailing, attempt = make_run(owner, FIVE, end_in=timedelta(days=7))
        office_hours(mailing)
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.LIMITED
        assert len(server.messages) == 2
        status = mailing_sending_status(mailing=mailing)
    # Three left at two an hour: under the limits alone 19:00 on Friday; the window closes at 18:00, so the
    # remaining sending hour and a half runs on Monday from 09:00.
    assert status.remaining == 3
    assert status.expected_finish_at == nsk(30, 10)


def test_a_dst_change_moves_the_window_with_the_owners_clock(server: SmtpServer, owner: User, settings: Any) -> None:
    """Berlin, spring forward on Sunday 2026-03-29: a daily 09:00–10:00 window sends at 09:00 local both days."""
    arrivals = stamp_arrivals(server)
    owner.time_zone = "Europe/Berlin"
    owner.save(update_fields=["time_zone"])
    with time_machine.travel(datetime(2026, 3, 28, 10, 30, tzinfo=BERLIN), tick=False):
        mailing, attempt = make_run(owner, FIVE[:1], end_in=timedelta(days=5))
        mailing.send_window_start, mailing.send_window_end = time(9), time(10)
        mailing.save(update_fields=["send_window_start", "send_window_end"])
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.WINDOW
        assert Delivery.objects.get(attempt=attempt).next_try_at == datetime(2026, 3, 29, 9, tzinfo=BERLIN)
    utc = ZoneInfo("UTC")
    # 07:00 UTC was 08:00 in Berlin the day before (window closed) and is 09:00 after the change (open).
    with time_machine.travel(datetime(2026, 3, 29, 6, 59, tzinfo=utc), tick=False):
        scheduler_tick(now=timezone.now())
        run_tasks()
    assert arrivals == []
    with time_machine.travel(datetime(2026, 3, 29, 7, 0, tzinfo=utc), tick=False):
        scheduler_tick(now=timezone.now())
        run_tasks()
    assert len(arrivals) == 1 and arrivals[0].astimezone(BERLIN).hour == 9
