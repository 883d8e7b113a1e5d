"""Sending limits per SMTP account (SEND_RATE_PER_SECOND / _HOUR / _DAY), counted in the database."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from mailings.delivery.engine import StopReason, attempt_deliver
from mailings.delivery.recovery import attempts_wake_due_retries
from mailings.delivery.status import mailing_sending_status
from mailings.models import Attempt, Delivery, SmtpAccountState
from mailings.tests.sending_support import (
    delivery,
    fast_settings,
    free_port,
    make_run,
    states,
)
from tests.support import SmtpServer
from users.models import User

pytestmark = pytest.mark.django_db

S = Delivery.State
FIVE = [f"{x}@example.com" for x in "abcde"]
MORNING = datetime(2026, 11, 23, 7, 15, tzinfo=UTC)  # 10:15 in Moscow


def test_an_hourly_limit_spreads_a_run_over_hours_and_shows_the_expected_finish(
    server: SmtpServer, owner: User, settings: Any
) -> None:
    settings.SEND_RATE_PER_HOUR = 2
    with time_machine.travel(MORNING, tick=True):
        mailing, attempt = make_run(owner, FIVE)
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.LIMITED
        got = states(attempt)
        assert [got[e] for e in FIVE] == [S.SENT, S.SENT, S.PENDING, S.PENDING, S.PENDING]
        next_hour = MORNING.replace(minute=0) + timedelta(hours=1)
        assert set(Delivery.objects.filter(attempt=attempt, state=S.PENDING).values_list("next_try_at", flat=True)) == {
            next_hour
        }
        status = mailing_sending_status(mailing=mailing)
        # Two more in the next hour, the last one in the hour after.
        assert status.remaining == 3 and status.expected_finish_at == next_hour + timedelta(hours=1)
        # The counter lives in the database: a new task (or a restarted worker) sees it.
        assert SmtpAccountState.objects.get().hour_count == 2
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.LIMITED
        assert len(server.messages) == 2

    with time_machine.travel(next_hour + timedelta(seconds=5), tick=True):
        assert attempts_wake_due_retries(now=timezone.now()) == 1
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.LIMITED
    assert len(server.messages) == 4
    with time_machine.travel(next_hour + timedelta(hours=1, seconds=5), tick=True):
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE
    assert set(states(attempt).values()) == {S.SENT}
    assert sorted(r for m in server.messages for r in m.rcpt_tos) == FIVE


def test_a_daily_limit_is_shared_by_all_runs_of_the_account(server: SmtpServer, owner: User, settings: Any) -> None:
    settings.SEND_RATE_PER_DAY = 3
    with time_machine.travel(MORNING, tick=True):
        _m1, first = make_run(owner, ["a@example.com", "b@example.com"])
        _m2, second = make_run(owner, ["c@example.com", "d@example.com"])
        attempt_deliver(attempt_id=first.pk)
        assert attempt_deliver(attempt_id=second.pk) == StopReason.LIMITED
    assert len(server.messages) == 3
    state = SmtpAccountState.objects.get()
    assert state.day_count == 3
    waiting = Delivery.objects.get(attempt=second, state=S.PENDING)
    # Midnight in TIME_ZONE (Europe/Moscow) is 21:00 UTC.
    assert waiting.next_try_at == datetime(2026, 11, 23, 21, 0, tzinfo=UTC)


def test_a_per_second_limit_paces_the_messages(server: SmtpServer, owner: User, settings: Any) -> None:
    settings.SEND_RATE_PER_SECOND = 40
    _m, attempt = make_run(owner, [f"r{i}@example.com" for i in range(12)])
    started = timezone.now()
    attempt_deliver(attempt_id=attempt.pk)
    assert set(states(attempt).values()) == {S.SENT}
    # The pace is booked on the account: 12 sends at 40 a second take slots 1/40 s apart from the first.
    paced_until = SmtpAccountState.objects.get().paced_until
    assert paced_until is not None and paced_until >= started + timedelta(seconds=11 / 40)


def test_without_limits_no_counters_are_kept(server: SmtpServer, owner: User) -> None:
    _m, attempt = make_run(owner)
    attempt_deliver(attempt_id=attempt.pk)
    assert SmtpAccountState.objects.get().hour_count == 0


def test_only_messages_that_reach_the_server_count(settings: Any, owner: User) -> None:
    fast_settings(settings, port=free_port())  # nobody listens: the breaker opens before anything is sent
    settings.SEND_RATE_PER_HOUR = 10
    _m, attempt = make_run(owner, ["a@example.com", "b@example.com"])

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED

    # The reservation for the batch was given back.
    assert SmtpAccountState.objects.get().hour_count == 0
    assert set(states(attempt).values()) == {S.PENDING}


def test_a_message_paced_past_end_at_is_skipped_not_sent(server: SmtpServer, owner: User, settings: Any) -> None:
    settings.SEND_RATE_PER_SECOND = 1
    _m, attempt = make_run(owner, ["a@example.com"], end_in=timedelta(seconds=1.5))
    # Another run of the account has the next three seconds of the per-second budget.
    SmtpAccountState.objects.create(
        account=f"127.0.0.1:{server.controller.port}", paced_until=timezone.now() + timedelta(seconds=3)
    )

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.BLOCKED

    a = Delivery.objects.get(attempt=attempt)
    assert a.state == S.SKIPPED and a.reason_text == "время рассылки истекло"
    assert server.messages == []


def test_a_limit_that_defers_past_end_at_skips_the_rest_and_finishes_the_run(
    server: SmtpServer, owner: User, settings: Any
) -> None:
    settings.SEND_RATE_PER_DAY = 1
    with time_machine.travel(MORNING, tick=True):
        _m, attempt = make_run(owner, ["a@example.com", "b@example.com"], end_in=timedelta(hours=2))

        # The day's budget is back at midnight, after the mailing's end.
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.LIMITED

    assert states(attempt) == {"a@example.com": S.SENT, "b@example.com": S.SKIPPED}
    assert Delivery.objects.get(attempt=attempt, email="b@example.com").reason_text == "время рассылки истекло"
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.FAILURE and (attempt.sent_count, attempt.skipped_count) == (1, 1)
    assert len(server.messages) == 1


def test_a_breaker_pause_past_end_at_ends_the_run_failed_with_the_servers_trouble(settings: Any, owner: User) -> None:
    fast_settings(settings, port=free_port())  # nobody listens: the breaker opens for 30 s
    settings.SEND_BREAKER_THRESHOLD = 1
    _m, attempt = make_run(owner, ["a@example.com"], end_in=timedelta(seconds=20))

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED

    # The run finishes at once, and says why nothing went out (issue 20: the real error, not "time is up").
    assert states(attempt) == {"a@example.com": S.FAILED}
    assert delivery(attempt, "a@example.com").reason == "connection_refused"
    assert delivery(attempt, "a@example.com").tries == 0
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.FAILURE and attempt.failed_count == 1
