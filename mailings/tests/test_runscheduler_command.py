"""`manage.py runscheduler`: the tick wiring (the long-running process itself is in test_scheduler_processes.py)."""

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from io import StringIO
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from mailings.delivery.schedule import LAST_TICK_CACHE_KEY, TickResult, scheduler_last_tick
from mailings.management.commands import runscheduler
from mailings.models import Attempt, Mailing, Message, Recipient
from users.models import User

MSK = ZoneInfo("Europe/Moscow")
START = datetime(2026, 5, 4, 9, 0, tzinfo=MSK)


@pytest.fixture(autouse=True)
def forget_last_tick() -> None:
    cache.delete(LAST_TICK_CACHE_KEY)


@pytest.fixture(autouse=True)
def close_old_connections() -> Iterator[mock.Mock]:
    # Inside the test's transaction a real close (CONN_MAX_AGE=0 on SQLite)
    # would end the test's own connection, as Django's test client avoids too.
    with mock.patch.object(runscheduler, "close_old_connections") as close:
        yield close


def due_mailing(owner: User) -> Mailing:
    message = Message.objects.create(owner=owner, subject="Новости", body="Текст")
    mailing = Mailing.objects.create(
        owner=owner, message=message, start_at=START, end_at=START + timedelta(days=1), next_run_at=START
    )
    mailing.recipients.add(Recipient.objects.create(owner=owner, email="a@example.com", full_name="А"))
    return mailing


@pytest.mark.django_db
def test_once_runs_one_tick_that_starts_due_runs_and_records_the_tick(owner: User) -> None:
    mailing = due_mailing(owner)
    out = StringIO()

    with time_machine.travel(START + timedelta(seconds=1), tick=False):
        call_command("runscheduler", "--once", stdout=out)

    assert "started=1" in out.getvalue()
    assert Attempt.objects.filter(mailing=mailing, trigger=Attempt.Trigger.SCHEDULE, scheduled_for=START).count() == 1
    assert cache.get(LAST_TICK_CACHE_KEY) == "2026-05-04T06:00:01+00:00"
    assert scheduler_last_tick() == START + timedelta(seconds=1)


@pytest.mark.django_db
def test_a_tick_logs_each_run_it_starts(owner: User, caplog: pytest.LogCaptureFixture) -> None:
    mailing = due_mailing(owner)

    with caplog.at_level(logging.INFO), time_machine.travel(START + timedelta(seconds=1), tick=False):
        runscheduler.run_tick()

    assert any(
        r.name == "mailings.delivery.schedule" and f"mailing={mailing.pk}" in r.getMessage() for r in caplog.records
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error", [OperationalError("database is locked"), InterfaceError("connection already closed")], ids=str
)
def test_a_tick_survives_a_database_that_is_locked_or_away(
    owner: User, error: Exception, caplog: pytest.LogCaptureFixture, close_old_connections: mock.Mock
) -> None:
    mailing = due_mailing(owner)

    with (
        time_machine.travel(START + timedelta(seconds=1), tick=False),
        mock.patch.object(runscheduler, "scheduler_tick", side_effect=error),
        caplog.at_level(logging.WARNING),
    ):
        assert runscheduler.run_tick() is None

    assert "database unavailable" in caplog.text
    # Connections are checked after the failure too, so the next tick reconnects.
    assert close_old_connections.call_count >= 2
    assert scheduler_last_tick() is None

    # The next tick goes on as usual.
    with time_machine.travel(START + timedelta(seconds=2), tick=False):
        result = runscheduler.run_tick()
    assert result is not None and result.started == 1
    assert Attempt.objects.filter(mailing=mailing).count() == 1


@pytest.mark.django_db
def test_a_tick_survives_an_unexpected_error(caplog: pytest.LogCaptureFixture) -> None:
    with mock.patch.object(runscheduler, "scheduler_tick", side_effect=RuntimeError("bug")):
        assert runscheduler.run_tick() is None
    assert "scheduler tick failed" in caplog.text


@pytest.mark.django_db
def test_once_reports_a_failed_tick_as_a_command_error() -> None:
    with (
        mock.patch.object(runscheduler, "scheduler_tick", side_effect=OperationalError("database is locked")),
        pytest.raises(CommandError),
    ):
        call_command("runscheduler", "--once", stdout=StringIO())


@pytest.mark.django_db
def test_a_quiet_tick_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mailings"):
        assert runscheduler.run_tick() == TickResult()
    assert not [r for r in caplog.records if r.name.startswith("mailings")]


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_keeps_its_jobs_and_each_ticks_record_in_the_database(
    owner: User, close_old_connections: mock.Mock
) -> None:
    from django_apscheduler.models import DjangoJob, DjangoJobExecution

    mailing = due_mailing(owner)
    now = timezone.now()
    Mailing.objects.filter(pk=mailing.pk).update(start_at=now, end_at=now + timedelta(days=1), next_run_at=now)
    scheduler = runscheduler.build_scheduler(interval=0.2)
    thread = threading.Thread(target=scheduler.start, name="test-scheduler")
    thread.start()
    try:

        def ticked() -> bool:
            return (
                DjangoJobExecution.objects.filter(
                    job_id=runscheduler.TICK_JOB_ID, status=DjangoJobExecution.SUCCESS
                ).count()
                >= 2
            )

        deadline = time.monotonic() + 30
        while not ticked() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
        thread.join()
    assert ticked()
    assert set(DjangoJob.objects.values_list("id", flat=True)) == {
        runscheduler.TICK_JOB_ID,
        runscheduler.TASK_ROWS_JOB_ID,
        runscheduler.BOUNCE_POLLS_JOB_ID,
        runscheduler.PRUNE_JOB_ID,
    }
    # The ticks did their work: the due mailing's run started.
    assert Attempt.objects.filter(mailing=mailing, trigger=Attempt.Trigger.SCHEDULE).count() == 1


@pytest.mark.django_db
def test_old_tick_records_are_pruned(settings: Any) -> None:
    from django_apscheduler.models import DjangoJob, DjangoJobExecution

    settings.SCHEDULER_HISTORY_HOURS = 1
    job = DjangoJob.objects.create(id=runscheduler.TICK_JOB_ID, next_run_time=timezone.now(), job_state=b"")
    now = timezone.now()
    for age in (timedelta(minutes=5), timedelta(hours=2), timedelta(days=3)):
        DjangoJobExecution.objects.create(job=job, status=DjangoJobExecution.SUCCESS, run_time=now - age)

    assert runscheduler.prune_history() == 2
    assert DjangoJobExecution.objects.count() == 1
