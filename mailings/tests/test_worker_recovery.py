"""What a worker killed outright leaves behind is cleaned up: db_worker task rows, an RQ work horse."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from mailings import worker_recovery
from users.tasks import send_account_email

BASE_DIR = Path(__file__).resolve().parents[2]


def _running_row(*, started: timedelta) -> DBTaskResult:
    """A task row as a db_worker leaves it when it is killed during the task: RUNNING, started `started` ago."""
    result = send_account_email.enqueue("a@example.com", "Тема", "Текст", "<p>Текст</p>")
    row = DBTaskResult.objects.get(id=result.id)
    with time_machine.travel(timezone.now() - started, tick=False):
        row.claim("killed-worker")
    return row


@pytest.mark.django_db
def test_the_scheduler_marks_a_dead_workers_running_row_failed(settings: Any) -> None:
    from unittest import mock

    from mailings.management.commands import runscheduler

    if settings.TASKS["default"]["BACKEND"] != "django_tasks_db.DatabaseBackend":
        pytest.skip("the database task backend only")
    stale_after = worker_recovery.task_stale_after()
    dead = _running_row(started=stale_after + timedelta(minutes=1))
    alive = _running_row(started=stale_after - timedelta(minutes=1))

    # Inside the test's transaction a real close would end the test's own connection (as in test_runscheduler).
    with mock.patch.object(runscheduler, "close_old_connections"):
        call_command("runscheduler", "--once", stdout=None)

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == TaskResultStatus.FAILED
    assert dead.exception_class_path == worker_recovery.STALE_EXCEPTION
    assert "killed outright" in dead.traceback
    assert dead.finished_at is not None
    assert alive.status == TaskResultStatus.RUNNING


def test_the_stale_window_outlasts_any_task_of_ours(settings: Any) -> None:
    longest = settings.SEND_TASK_MAX_SECONDS + settings.SEND_MESSAGE_DEADLINE
    assert worker_recovery.task_stale_after() > timedelta(seconds=longest)
    settings.TASK_STALE_AFTER = 3600
    assert worker_recovery.task_stale_after() == timedelta(hours=1)


HORSE = """
import os, signal, sys, time
from mailings.worker_recovery import _die_with_parent

marker = sys.argv[1]
parent = os.getpid()
child = os.fork()
if child == 0:
    def stopped(signum, frame):
        with open(marker, "w") as f:
            f.write(signal.Signals(signum).name)
        os._exit(0)
    signal.signal(signal.SIGTERM, stopped)
    os.setpgrp()  # as RQ's work horse: out of the worker's process group
    _die_with_parent(parent)
    with open(marker + ".ready", "w") as f:
        f.write("ready")
    while True:
        time.sleep(0.05)
print(child, flush=True)
while True:
    time.sleep(0.05)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_work_horse_is_told_to_stop_when_its_worker_is_killed_outright(tmp_path: Path) -> None:
    marker = tmp_path / "horse-stopped"
    worker = subprocess.Popen(
        [sys.executable, "-c", HORSE, str(marker)], cwd=BASE_DIR, stdout=subprocess.PIPE, text=True
    )
    horse = int(worker.stdout.readline())  # type: ignore[union-attr]
    try:
        _wait_for(Path(f"{marker}.ready"))
        assert not marker.exists()
        worker.kill()  # SIGKILL: no handler runs in the worker
        worker.wait(timeout=30)
        _wait_for(marker)
        assert marker.read_text() == "SIGTERM"
    finally:
        worker.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(horse, signal.SIGKILL)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_the_worker_class_sets_it_up_in_every_work_horse(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("rq")
    calls: list[int] = []
    monkeypatch.setattr(worker_recovery, "_die_with_parent", calls.append)
    monkeypatch.setattr(worker_recovery._RqWorker, "main_work_horse", lambda self, *a, **k: None)
    worker = worker_recovery.Worker.__new__(worker_recovery.Worker)
    worker._vestnik_parent_pid = 4242
    worker.main_work_horse(None, None)
    assert calls == [4242]
