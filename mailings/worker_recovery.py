"""What a worker killed outright (SIGKILL, power loss, OOM) leaves behind in the task backends, and its cleanup.

The delivery engine's own leases already make such a death safe (the scheduler's lease sweep returns unsent
deliveries to the queue and marks those in doubt unknown). What stays is bookkeeping of the task backends:

- db_worker: the task row stays RUNNING forever, and the queue depth, the admin and the operator see a task
  that is not running. `task_rows_fail_stale` (called from the scheduler) marks such rows FAILED once they have
  been RUNNING for longer than any task of ours can take.
- rqworker: the job runs in a forked child ("work horse"), in its own process group; a parent killed outright
  used to leave it sending until its batch ended. `Worker` (`manage.py rqworker --worker-class
  mailings.worker_recovery.Worker`) asks the kernel to send the child SIGTERM when the parent dies, and the
  delivery engine then stops after the message in hand, as on any SIGTERM.
"""

import ctypes
import logging
import os
import signal
import sys
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

STALE_EXCEPTION = "mailings.worker_recovery.WorkerLost"


def task_stale_after() -> timedelta:
    """How long a task of ours may run: a delivery task stops taking messages after SEND_TASK_MAX_SECONDS and
    finishes the one in hand within SEND_MESSAGE_DEADLINE; an account email takes a few EMAIL_TIMEOUTs. Twice
    the longest, so that only a dead worker's row ever gets this old."""
    longest = settings.SEND_TASK_MAX_SECONDS + settings.SEND_MESSAGE_DEADLINE + 4 * settings.EMAIL_TIMEOUT
    return timedelta(seconds=settings.TASK_STALE_AFTER or 2 * longest)


def task_rows_fail_stale(*, now: datetime) -> int:
    """Mark the database backend's task rows RUNNING for longer than `task_stale_after()` as FAILED; how many.

    One conditional UPDATE: a worker that is alive and finishing the row at this moment writes its own final
    state after ours (its row is not RUNNING any more only if it already finished).
    """
    if settings.TASKS["default"]["BACKEND"] != "django_tasks_db.DatabaseBackend":
        return 0
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    cutoff = now - task_stale_after()
    swept = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        exception_class_path=STALE_EXCEPTION,
        traceback=(
            f"The worker running this task stopped answering: still RUNNING {int(task_stale_after().total_seconds())}"
            " s after it started (killed outright?). Marked failed by the scheduler; the deliveries it held were"
            " returned or marked unknown by the lease sweep."
        ),
    )
    if swept:
        logger.warning("task rows of a dead worker marked failed: %s (RUNNING since before %s)", swept, cutoff)
    return swept


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (prctl PR_SET_PDEATHSIG); elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0) != 0:
        logger.warning("work horse: prctl(PR_SET_PDEATHSIG) failed: errno %s", ctypes.get_errno())
        return
    if os.getppid() != parent_pid:
        # The parent died before the request took effect: act as if the signal had come.
        os.kill(os.getpid(), signal.SIGTERM)


try:
    from rq.worker import Worker as _RqWorker
except ImportError:  # RQ is only installed for the Redis set-up
    _RqWorker = object  # type: ignore[assignment,misc]


class Worker(_RqWorker):
    """RQ's forking worker whose work horse stops (SIGTERM) when the worker itself is killed outright."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._vestnik_parent_pid = os.getpid()

    def main_work_horse(self, *args: Any, **kwargs: Any) -> None:
        _die_with_parent(self._vestnik_parent_pid)
        super().main_work_horse(*args, **kwargs)
