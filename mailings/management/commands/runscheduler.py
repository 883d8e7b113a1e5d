"""`manage.py runscheduler`: the scheduler process (docs/architecture.md, Processes).

Every second it runs one tick (mailings.delivery.schedule.scheduler_tick), and every hour it prunes the
record of past ticks. Both jobs live in django-apscheduler's job store (the database), so the admin shows
them with their next run («Django APScheduler»: Django jobs) and each tick's execution (Django job
executions: when, how long, any error), kept for SCHEDULER_HISTORY_HOURS.

Several schedulers may run at once: every claim in the tick is a conditional UPDATE, so correctness never
depends on there being only one.
"""

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import Error as DjangoDatabaseError
from django.db import close_old_connections
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJobExecution

from mailings.delivery.journal import journals_remove_stale
from mailings.delivery.schedule import TickResult, scheduler_record_tick, scheduler_tick
from mailings.worker_recovery import task_rows_fail_stale
from webhooks.tasks import webhook_messages_prune

logger = logging.getLogger(__name__)

TICK_JOB_ID = "vestnik-scheduler-tick"
PRUNE_JOB_ID = "vestnik-scheduler-prune-history"
TASK_ROWS_JOB_ID = "vestnik-task-rows-sweep"
BOUNCE_POLLS_JOB_ID = "vestnik-bounce-polls"
# Polls are due every BOUNCE_POLL_SECONDS per mailbox; looking once a minute which are due is enough.
BOUNCE_POLLS_SECONDS = 60
# Dead workers' task rows are rare and no one waits on them: once a minute is plenty, and keeps the tick cheap.
TASK_ROWS_SWEEP_SECONDS = 60


def run_tick() -> TickResult | None:
    """One tick that never raises: returns its result, or None if it failed (and was logged)."""
    # Like a request: drop connections the server closed or that outlived CONN_MAX_AGE.
    close_old_connections()
    now = timezone.now()
    try:
        result = scheduler_tick(now=now)
        scheduler_record_tick(now=now)
    except DjangoDatabaseError as exc:
        # A locked SQLite file or a restarting PostgreSQL: skip this tick, the
        # next one retries on a fresh connection.
        logger.warning("scheduler tick skipped, database unavailable: %s: %s", type(exc).__name__, exc)
        close_old_connections()
        return None
    except Exception:
        logger.exception("scheduler tick failed")
        return None
    finally:
        close_old_connections()
    if result.anything_done:
        logger.info(
            "tick %s: started=%s skipped=%s finished=%s leases_swept=%s retries_woken=%s",
            now.isoformat(),
            result.started,
            result.skipped,
            result.finished,
            result.leases_swept,
            result.retries_woken,
        )
    return result


def run_task_rows_sweep() -> int | None:
    """Mark the task rows of workers killed outright as failed (mailings/worker_recovery.py) and remove stale
    delivery journals (mailings/delivery/journal.py); never raises."""
    close_old_connections()
    try:
        journals_remove_stale()
        return task_rows_fail_stale(now=timezone.now())
    except Exception:
        logger.exception("task rows sweep failed")
        return None
    finally:
        close_old_connections()


def run_bounce_polls() -> int | None:
    """Enqueue the due bounce-mailbox polls (bounces/tasks.py); never raises."""
    from bounces.tasks import bounce_polls_enqueue

    close_old_connections()
    try:
        return bounce_polls_enqueue()
    except Exception:
        logger.exception("bounce polls not enqueued")
        return None
    finally:
        close_old_connections()


def prune_history() -> int:
    """Forget tick executions older than SCHEDULER_HISTORY_HOURS; returns how many went."""
    close_old_connections()
    try:
        before = DjangoJobExecution.objects.count()
        DjangoJobExecution.objects.delete_old_job_executions(max_age=int(settings.SCHEDULER_HISTORY_HOURS) * 3600)
        pruned = before - DjangoJobExecution.objects.count()
        webhooks_pruned = webhook_messages_prune(now=timezone.now())
        if webhooks_pruned:
            logger.info("webhook log pruned: %s rows", webhooks_pruned)
    except DjangoDatabaseError as exc:
        logger.warning("scheduler history not pruned, database unavailable: %s", exc)
        return 0
    finally:
        close_old_connections()
    if pruned:
        logger.info("scheduler history pruned: %s executions", pruned)
    _prune_unconfirmed_imports()
    return pruned


def _prune_unconfirmed_imports() -> None:
    """Uploads left at the preview for IMPORT_UNCONFIRMED_HOURS go, with their files (hourly, with the history)."""
    from audience.imports.services import imports_prune_unconfirmed

    close_old_connections()
    try:
        imports_prune_unconfirmed()
    except DjangoDatabaseError as exc:
        logger.warning("unconfirmed imports not pruned, database unavailable: %s", exc)
    finally:
        close_old_connections()


def build_scheduler(*, interval: float) -> BlockingScheduler:
    """The scheduler with its jobs in the database job store; `start()` runs it until `shutdown()`."""
    # One worker thread: ticks never overlap (max_instances=1 as well) and
    # the process keeps a single database connection.
    scheduler = BlockingScheduler(
        timezone=UTC,
        jobstores={"default": DjangoJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
    )
    # Ticks land just after whole seconds: start times entered in the UI
    # are whole minutes, so a run starts a few milliseconds after its slot
    # rather than up to a whole interval later.
    first_tick = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    scheduler.add_job(
        run_tick,
        trigger=IntervalTrigger(seconds=interval, start_date=first_tick, timezone=UTC),
        id=TICK_JOB_ID,
        name="Vestnik: scheduler tick",
        max_instances=1,
        coalesce=True,
        # A tick that comes late (a slow one before it) still runs, once.
        misfire_grace_time=None,
        replace_existing=True,
    )
    scheduler.add_job(
        run_task_rows_sweep,
        trigger=IntervalTrigger(seconds=TASK_ROWS_SWEEP_SECONDS, start_date=first_tick, timezone=UTC),
        id=TASK_ROWS_JOB_ID,
        name="Vestnik: fail the task rows of killed workers",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        replace_existing=True,
    )
    scheduler.add_job(
        run_bounce_polls,
        trigger=IntervalTrigger(seconds=BOUNCE_POLLS_SECONDS, start_date=first_tick, timezone=UTC),
        id=BOUNCE_POLLS_JOB_ID,
        name="Vestnik: poll the bounce mailboxes",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        replace_existing=True,
    )
    scheduler.add_job(
        prune_history,
        trigger=IntervalTrigger(hours=1, start_date=first_tick, timezone=UTC),
        id=PRUNE_JOB_ID,
        name="Vestnik: prune the scheduler's history",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        replace_existing=True,
    )
    return scheduler


class Command(BaseCommand):
    help = (
        "Run the scheduler: every second start due mailing runs, finish expired mailings, "
        "sweep expired delivery leases and wake due retries. Stops cleanly on SIGTERM or SIGINT."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between ticks (default: 1).")
        parser.add_argument("--once", action="store_true", help="Run a single tick and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            result = run_tick()
            run_task_rows_sweep()
            if result is None:
                raise CommandError("the tick failed, see the log")
            self.stdout.write(
                f"started={result.started} skipped={result.skipped} finished={result.finished} "
                f"leases_swept={result.leases_swept} retries_woken={result.retries_woken}"
            )
            return

        interval: float = options["interval"]
        scheduler = build_scheduler(interval=interval)

        stopper: list[threading.Thread] = []

        def stop(signum: int, frame: FrameType | None) -> None:
            if stopper:
                return
            logger.info("scheduler received %s, stopping after the current tick", signal.strsignal(signum))
            # shutdown() waits for the running tick; called from another thread
            # so the handler never re-enters the scheduler's own locks while its
            # main loop holds them.
            thread = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, name="scheduler-stop")
            stopper.append(thread)
            thread.start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

        logger.info("scheduler started: a tick every %ss", interval)
        scheduler.start()
        for thread in stopper:
            thread.join()
        logger.info("scheduler stopped")
