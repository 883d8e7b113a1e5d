"""A worker killed outright, several times, mid-run: at most one message in doubt per kill (issue 21).

Real processes (`db_worker`, or `rqworker` in the server leg) send a 3,000-recipient run to a counting SMTP
server; the worker is killed with SIGKILL at random moments (after a random number of messages since its start)
and started again after the sweep. Every recipient gets at most one copy, every delivery ends final, and
«Неизвестно» is at most the number of kills: the journal (mailings/delivery/journal.py) tells the sweep which
marked message was in flight, the rest of its hand-over group goes back to pending and is sent once.
The attempt's counters are checked against the ledger while the workers send. Runs on SQLite and PostgreSQL.
"""

import random
import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import close_old_connections
from django.utils import timezone

from mailings.delivery.counts import attempt_counts_check, ledger_check
from mailings.delivery.recovery import attempts_wake_due_retries, deliveries_sweep_expired_leases
from mailings.delivery.runs import attempt_start
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from mailings.tests.test_sending_concurrency import _worker, _worker_env
from tests.support import SinkHandler, SmtpServer
from users.models import User

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECIPIENTS = 3000
KILLS = 4
S = Delivery.State


class CountingHandler(SinkHandler):
    """Counts the copies each recipient received (nothing else kept: 3,000 messages)."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str | bytes:
        with self.lock:
            self.copies.update(r.lower() for r in envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued"

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> Any:
        # PIPELINING, as every real server offers it: the worker then sends each next envelope behind the previous
        # final dot (smtp.py), and a kill can fall between an envelope accepted ahead and its message's dot.
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    def total(self) -> int:
        with self.lock:
            return sum(self.copies.values())


def _big_run(owner: User) -> Attempt:
    now = timezone.now()
    message = Message.objects.create(owner=owner, subject="Большая рассылка", body="Здравствуйте!")
    mailing = Mailing.objects.create(
        owner=owner, message=message, start_at=now - timedelta(hours=1), end_at=now + timedelta(days=1)
    )
    recipients = Recipient.objects.bulk_create(
        Recipient(owner=owner, email=f"client{i:05d}@example.com", full_name=f"Клиент {i}") for i in range(RECIPIENTS)
    )
    mailing.recipients.set(recipients)
    return attempt_start(mailing=mailing, trigger=Attempt.Trigger.MANUAL)


def _wait_for(condition: Any, *, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


def test_killed_workers_leave_at_most_one_message_in_doubt_each(owner: User, tmp_path: Path) -> None:
    handler = CountingHandler()
    server = SmtpServer(handler).start()
    pick = random.Random()
    seed = pick.randrange(1_000_000)
    pick.seed(seed)
    try:
        attempt = _big_run(owner)
        env = _worker_env(server.port, SEND_BATCH_SIZE="50", SEND_HANDOVER_GROUP="25", SEND_TASKS_PER_ATTEMPT="1")
        checks = 0
        for kill in range(KILLS + 1):
            log = tmp_path / f"worker{kill}.log"
            worker = _worker(env, log, batch=False)
            try:
                if kill == KILLS:
                    _wait_for(
                        lambda: Attempt.objects.get(pk=attempt.pk).is_final, seconds=300, what="the run's end", log=log
                    )
                    break
                # A random moment: after a random number of messages since this worker started.
                target = handler.total() + pick.randint(20, 500)
                _wait_for(lambda target=target: handler.total() >= target, seconds=120, what="messages", log=log)
                # Counters against the ledger while the worker writes (a consistent per-attempt read).
                assert attempt_counts_check(attempt_id=attempt.pk, repair=False) == {}
                checks += 1
                time.sleep(pick.random() * 0.05)
            finally:
                worker.send_signal(signal.SIGKILL if kill < KILLS else signal.SIGTERM)
                worker.wait(30)
            close_old_connections()
            time.sleep(0.3)  # the server finishes the session the kill cut
            # What the scheduler does every second, with the clock past every lease: nobody is alive, so every
            # lease held is a dead worker's; and the run is woken (a killed RQ worker's job is gone).
            later = timezone.now() + timedelta(minutes=10)
            deliveries_sweep_expired_leases(now=later)
            attempts_wake_due_retries(now=later)
            assert attempt_counts_check(attempt_id=attempt.pk, repair=False) == {}
    finally:
        server.stop()
    close_old_connections()
    states = Counter(Delivery.objects.filter(attempt=attempt).values_list("state", flat=True))
    attempt.refresh_from_db()
    copies = handler.copies
    context = f"seed={seed} states={dict(states)} copies={sum(copies.values())}"
    assert attempt.is_final, context
    assert set(states) <= set(Delivery.FINAL_STATES), context
    assert max(copies.values()) == 1, context
    assert states[S.UNKNOWN] <= KILLS, context
    sent = set(Delivery.objects.filter(attempt=attempt, state=S.SENT).values_list("email", flat=True))
    unknown = set(Delivery.objects.filter(attempt=attempt, state=S.UNKNOWN).values_list("email", flat=True))
    assert sent <= set(copies) <= sent | unknown, context
    assert states[S.SENT] + states[S.UNKNOWN] == RECIPIENTS, context
    assert ledger_check() == {} and checks == KILLS, context
    assert (attempt.sent_count, attempt.unknown_count) == (states[S.SENT], states[S.UNKNOWN]), context
