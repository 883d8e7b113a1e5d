"""Several workers on one attempt, workers killed or stopped mid-run, and a run stopped from outside mid-run.

These need committed data visible to other threads and processes: `transactional_db` on the file
SQLite test database (or PostgreSQL when DATABASE_URL is set, with RQ when REDIS_URL is set).
"""

import asyncio
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import close_old_connections, connection, connections
from django.utils import timezone

from mailings.delivery.engine import attempt_deliver
from mailings.delivery.recovery import deliveries_sweep_expired_leases
from mailings.models import Attempt, Delivery, Mailing
from mailings.tests.sending_support import ServerFactory, fast_settings, make_run, run_copies, serving, states
from tests import support as testing
from tests.support import SinkHandler, run_tasks
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)

S = Delivery.State
BASE_DIR = Path(django_settings.BASE_DIR)
FIVE = [f"{x}@example.com" for x in "abcde"]


class HoldingHandler(SinkHandler):
    """Records a message, then holds its reply to the final dot for `hold` addresses until released."""

    def __init__(self, *, hold: set[str], seconds: float) -> None:
        super().__init__()
        self.hold = hold
        self.seconds = seconds
        self.holding = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str | bytes:
        reply = await super().handle_DATA(server, session, envelope)
        if self.hold & set(envelope.rcpt_tos):
            self.holding.set()
            await asyncio.sleep(self.seconds)
        return reply


def _uses_rq() -> bool:
    return django_settings.TASKS["default"]["BACKEND"] == "django_tasks_rq.RQBackend"


def _worker_env(port: int, **extra: str) -> dict[str, str]:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        url = f"sqlite:///{db['NAME']}"
    else:
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}/{db['NAME']}"
    # The workers use this suite's task backend (RQ in the server leg) and database.
    overrides = {"SEND_MESSAGE_DEADLINE": "10", "SEND_BATCH_SIZE": "10", **extra}
    return testing.process_env(database_url=url, smtp_port=port, keep_task_backend=True, **overrides)


def _worker(env: dict[str, str], log: Path, *, batch: bool) -> subprocess.Popen[bytes]:
    if _uses_rq():
        args = ["rqworker", "mail", "--job-class", "django_tasks_rq.Job", "--worker-class", "rq.worker.SimpleWorker"]
        if batch:
            args.append("--burst")
    else:
        args = ["db_worker", "--no-reload", "--no-startup-delay", "--queue-name", "mail", "--interval", "0.2"]
        if batch:
            args.append("--batch")
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), *args], env=env, cwd=BASE_DIR, stdout=out, stderr=out
        )


@pytest.fixture
def fast(settings: Any) -> Any:
    fast_settings(settings, port=9)
    return settings


def _copies(handler: SinkHandler) -> dict[str, int]:
    return run_copies(handler)


def test_two_threads_share_one_attempt_without_sending_twice(fast: Any, owner: User) -> None:
    handler = SinkHandler()
    emails = [f"r{i}@example.com" for i in range(120)]
    with serving(ServerFactory(handler)) as factory:
        fast.EMAIL_PORT = factory.port
        _m, attempt = make_run(owner, emails)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                barrier.wait()
                attempt_deliver(attempt_id=attempt.pk)
            except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []
    assert set(states(attempt).values()) == {S.SENT}
    assert _copies(handler) == dict.fromkeys(emails, 1)
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUCCESS and attempt.sent_count == 120


@pytest.mark.slow
def test_two_worker_processes_share_one_attempt(fast: Any, owner: User, tmp_path: Path) -> None:
    fast.SEND_TASKS_PER_ATTEMPT = 2
    handler = SinkHandler()
    emails = [f"r{i}@example.com" for i in range(200)]
    with serving(ServerFactory(handler)) as factory:
        _m, attempt = make_run(owner, emails)  # enqueues two tasks on commit
        env = _worker_env(factory.port)
        workers = [_worker(env, tmp_path / f"worker{i}.log", batch=True) for i in range(2)]
        for w in workers:
            assert w.wait(120) == 0, (tmp_path / "worker0.log").read_text() + (tmp_path / "worker1.log").read_text()
    assert set(states(attempt).values()) == {S.SENT}
    assert _copies(handler) == dict.fromkeys(emails, 1)
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUCCESS


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_recovered_by_the_lease_sweep(fast: Any, owner: User, tmp_path: Path) -> None:
    handler = HoldingHandler(hold={"c@example.com"}, seconds=30)
    with serving(ServerFactory(handler)) as factory:
        fast.EMAIL_PORT = factory.port
        _m, attempt = make_run(owner, FIVE)
        worker = _worker(_worker_env(factory.port, SEND_BATCH_SIZE="1"), tmp_path / "worker.log", batch=False)
        try:
            assert handler.holding.wait(60), (tmp_path / "worker.log").read_text()
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(30)
        close_old_connections()
        got = states(attempt)
        assert got["c@example.com"] == S.SENDING
        # Leases still valid: nothing to sweep yet.
        assert deliveries_sweep_expired_leases(now=timezone.now()) == 0
        # Batches of one: only c was leased (d and e were never claimed).
        assert deliveries_sweep_expired_leases(now=timezone.now() + timedelta(minutes=2)) == 1
        got = states(attempt)
        assert (got["a@example.com"], got["b@example.com"]) == (S.SENT, S.SENT)
        # The killed worker had sent the final dot for c: in doubt, never resent.
        assert got["c@example.com"] == S.UNKNOWN
        assert (got["d@example.com"], got["e@example.com"]) == (S.PENDING, S.PENDING)
        handler.hold.clear()
        run_tasks()  # the sweep re-enqueued delivery for the attempt
    assert states(attempt) == {**got, "d@example.com": S.SENT, "e@example.com": S.SENT}
    assert _copies(handler) == dict.fromkeys(FIVE, 1)
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.FAILURE and attempt.unknown_count == 1


@pytest.mark.slow
def test_sigterm_finishes_the_message_in_hand_and_hands_over_the_rest(fast: Any, owner: User, tmp_path: Path) -> None:
    if _uses_rq():
        pytest.skip("graceful SIGTERM is tested with db_worker; RQ's work horse has its own shutdown")
    handler = HoldingHandler(hold={"c@example.com"}, seconds=1.5)
    with serving(ServerFactory(handler)) as factory:
        fast.EMAIL_PORT = factory.port
        _m, attempt = make_run(owner, FIVE)
        worker = _worker(_worker_env(factory.port), tmp_path / "worker.log", batch=False)
        try:
            assert handler.holding.wait(60), (tmp_path / "worker.log").read_text()
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(30) == 0, (tmp_path / "worker.log").read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
        close_old_connections()
        got = states(attempt)
        # The message in hand got its reply and was recorded; the rest went back to wait.
        assert [got[e] for e in FIVE] == [S.SENT, S.SENT, S.SENT, S.PENDING, S.PENDING]
        run_tasks()  # the stopped task re-enqueued itself
    assert set(states(attempt).values()) == {S.SENT}
    assert _copies(handler) == dict.fromkeys(FIVE, 1)


@pytest.mark.parametrize(("change", "reason"), [("disable", "рассылка отключена"), ("block", "владелец заблокирован")])
def test_a_mailing_stopped_mid_run_sends_nothing_more(fast: Any, owner: User, change: str, reason: str) -> None:
    fast.SEND_BATCH_SIZE = 2
    handler = SinkHandler()
    _m, attempt = make_run(owner, FIVE)
    mailing_id = attempt.mailing_id

    def write() -> None:
        if change == "disable":
            Mailing.objects.filter(pk=mailing_id).update(is_enabled=False, disabled_at=timezone.now())
        else:
            User.objects.filter(pk=owner.pk).update(is_active=False, blocked_at=timezone.now())
        connections.close_all()

    async def stop_it(address: str) -> None:
        # A write from "outside" while the worker waits for the reply to b's RCPT.
        if address == "b@example.com":
            await asyncio.to_thread(write)

    handler.on_rcpt = stop_it
    with serving(ServerFactory(handler)) as factory:
        fast.EMAIL_PORT = factory.port
        attempt_deliver(attempt_id=attempt.pk)
    got = states(attempt)
    # b was in hand when it happened; nothing after it was sent.
    assert [got[e] for e in FIVE] == [S.SENT, S.SENT, S.SKIPPED, S.SKIPPED, S.SKIPPED]
    assert {d.reason_text for d in Delivery.objects.filter(attempt=attempt, state=S.SKIPPED)} == {reason}
    assert sorted(_copies(handler)) == ["a@example.com", "b@example.com"]


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    yield
    connections.close_all()


def _queued_tasks() -> int | None:
    """Tasks in the database queue (None with RQ)."""
    if _uses_rq():
        return None
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.count()


@pytest.mark.slow
def test_sigterm_to_send_mailing_wait_re_enqueues_the_rest_before_the_process_ends(
    fast: Any, owner: User, tmp_path: Path
) -> None:
    # No handler of its own in this process: SIGTERM's default action is due, after the cleanup.
    handler = HoldingHandler(hold={"c@example.com"}, seconds=1.5)
    with serving(ServerFactory(handler)) as factory:
        fast.EMAIL_PORT = factory.port
        mailing, first = make_run(owner, FIVE)
        first.delete()
        log = tmp_path / "command.log"
        with log.open("wb") as out:
            command = subprocess.Popen(
                [sys.executable, str(BASE_DIR / "manage.py"), "send_mailing", str(mailing.pk), "--wait"],
                env=_worker_env(factory.port),
                cwd=BASE_DIR,
                stdout=out,
                stderr=out,
            )
        try:
            assert handler.holding.wait(60), log.read_text()
            queued_before = _queued_tasks()
            command.send_signal(signal.SIGTERM)
            assert command.wait(30) == -signal.SIGTERM, log.read_text()
        finally:
            if command.poll() is None:
                command.kill()
        close_old_connections()
        if queued_before is not None:
            assert _queued_tasks() == queued_before + 1
        attempt = Attempt.objects.get(mailing=mailing)
        got = states(attempt)
        assert [got[e] for e in FIVE] == [S.SENT, S.SENT, S.SENT, S.PENDING, S.PENDING]
        run_tasks()  # enqueued before the process ended
    assert set(states(attempt).values()) == {S.SENT}
    assert _copies(handler) == dict.fromkeys(FIVE, 1)
