"""Grouped hand-over marks (SEND_HANDOVER_GROUP): one commit marks the next deliveries of a batch.

A worker killed mid-group leaves its marked-but-unsent deliveries unknown (never resent); a worker
that stops sending them while alive clears the mark, so they are skipped or pending as before.
"""

import asyncio
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import close_old_connections, connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailings.delivery import engine as sending
from mailings.delivery.engine import StopReason, attempt_deliver
from mailings.delivery.journal import journal_path
from mailings.delivery.recovery import deliveries_sweep_expired_leases
from mailings.models import Delivery, Mailing
from mailings.tests.sending_support import ServerFactory, fast_settings, make_run, serving, states
from mailings.tests.test_sending_concurrency import HoldingHandler, _copies, _worker, _worker_env
from tests.support import SinkHandler, run_tasks
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)

S = Delivery.State
FIVE = [f"{x}@example.com" for x in "abcde"]
_MARK = re.compile(r"^\s*UPDATE\s+\S+\s+SET\s+handed_over\s*=\s*(1|true|%s|\?)", re.IGNORECASE)


@pytest.fixture
def fast(settings: Any) -> Any:
    fast_settings(settings, port=9)
    return settings


@contextmanager
def hand_over_marks() -> Iterator[list[str]]:
    """The statements setting handed_over (the write-ahead), on SQLite's DB-API connection or Django's cursor."""
    marks: list[str] = []
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        raw.set_trace_callback(lambda sql: marks.append(sql) if _MARK.match(sql) and "= 0" not in sql[:60] else None)
        try:
            yield marks
        finally:
            raw.set_trace_callback(None)
        return
    with CaptureQueriesContext(connection) as ctx:
        yield marks
    marks.extend(q["sql"] for q in ctx.captured_queries if _MARK.match(q["sql"]) and "= false" not in q["sql"][:60])


@pytest.mark.parametrize(("group", "writes"), [(10, 3), (1, 25)])
def test_hand_over_marks_are_written_per_group(fast: Any, owner: User, group: int, writes: int) -> None:
    fast.SEND_HANDOVER_GROUP = group
    fast.SEND_BATCH_SIZE = 50
    handler = SinkHandler()
    emails = [f"r{i}@example.com" for i in range(25)]
    with serving(ServerFactory(handler)) as factory:
        fast.EMAIL_PORT = factory.port
        _m, attempt = make_run(owner, emails)
        with hand_over_marks() as marks:
            assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE
    assert len(marks) == writes
    assert set(states(attempt).values()) == {S.SENT}
    assert set(Delivery.objects.filter(attempt=attempt).values_list("handed_over", flat=True)) == {True}
    assert _copies(handler) == dict.fromkeys(emails, 1)


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["process crash", "power loss"])
def test_a_worker_killed_mid_group_leaves_only_the_message_in_flight_unknown(
    fast: Any, owner: User, tmp_path: Path, failure: str
) -> None:
    """The journal (journal.py) tells which marked message was in flight; without it, the group rule."""
    handler = HoldingHandler(hold={"a@example.com"}, seconds=30)
    with serving(ServerFactory(handler)) as factory:
        fast.EMAIL_PORT = factory.port
        _m, attempt = make_run(owner, FIVE)
        env = _worker_env(factory.port, SEND_BATCH_SIZE="10", SEND_HANDOVER_GROUP="3")
        worker = _worker(env, tmp_path / "worker.log", batch=False)
        try:
            assert handler.holding.wait(60), (tmp_path / "worker.log").read_text()
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(30)
        close_old_connections()
        # a's final dot went out; a, b and c were marked in one write, d and e not yet.
        marked = dict(Delivery.objects.filter(attempt=attempt).values_list("email", "handed_over"))
        assert marked == {"a@example.com": True, "b@example.com": True, "c@example.com": True} | {
            "d@example.com": False,
            "e@example.com": False,
        }
        assert set(states(attempt).values()) == {S.SENDING}
        owner_of_a = Delivery.objects.get(attempt=attempt, email="a@example.com").lease_owner
        journal = journal_path(owner_of_a)
        assert journal is not None and journal.is_file()
        if failure == "power loss":
            # Not forced to disk: a power loss may take the journal with it (a reboot changes the boot id too).
            journal.unlink()
        assert deliveries_sweep_expired_leases(now=timezone.now() + timedelta(minutes=2)) == 5
        assert not journal.exists()
        got = states(attempt)
        if failure == "process crash":
            # a's final dot was in flight: in doubt. b and c were marked with it but never reached theirs.
            assert [got[e] for e in FIVE] == [S.UNKNOWN, S.PENDING, S.PENDING, S.PENDING, S.PENDING]
        else:
            # Marked but never sent (b, c): in doubt for the sweep, never resent. Unmarked: back to pending.
            assert [got[e] for e in FIVE] == [S.UNKNOWN, S.UNKNOWN, S.UNKNOWN, S.PENDING, S.PENDING]
        handler.hold.clear()
        run_tasks()  # the sweep re-enqueued delivery for the attempt
    got = states(attempt)
    if failure == "process crash":
        assert [got[e] for e in FIVE] == [S.UNKNOWN, S.SENT, S.SENT, S.SENT, S.SENT]
        assert _copies(handler) == dict.fromkeys(FIVE, 1)
    else:
        assert [got[e] for e in FIVE] == [S.UNKNOWN, S.UNKNOWN, S.UNKNOWN, S.SENT, S.SENT]
        assert _copies(handler) == {"a@example.com": 1, "d@example.com": 1, "e@example.com": 1}


def test_a_mailing_disabled_mid_group_skips_the_rest_and_clears_their_marks(
    fast: Any, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sending, "RECHECK_SECONDS", 0.0)  # re-check before every message
    fast.SEND_HANDOVER_GROUP = 25
    handler = SinkHandler()
    _m, attempt = make_run(owner, FIVE)
    mailing_id = attempt.mailing_id
    seen: dict[str, bool] = {}

    def disable() -> None:
        seen.update(Delivery.objects.filter(attempt=attempt).values_list("email", "handed_over"))
        Mailing.objects.filter(pk=mailing_id).update(is_enabled=False, disabled_at=timezone.now())
        connections.close_all()

    async def stop_it(address: str) -> None:
        if address == "b@example.com":
            await asyncio.to_thread(disable)

    handler.on_rcpt = stop_it
    with serving(ServerFactory(handler)) as factory:
        fast.EMAIL_PORT = factory.port
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.BLOCKED
    # All five were marked at a's final dot: b was in hand when the mailing was disabled.
    assert seen == dict.fromkeys(FIVE, True)
    got = states(attempt)
    assert [got[e] for e in FIVE] == [S.SENT, S.SENT, S.SKIPPED, S.SKIPPED, S.SKIPPED]
    rest = Delivery.objects.filter(attempt=attempt, state=S.SKIPPED)
    assert {d.reason_text for d in rest} == {"рассылка отключена"}
    assert set(rest.values_list("handed_over", flat=True)) == {False}
    assert deliveries_sweep_expired_leases(now=timezone.now() + timedelta(minutes=2)) == 0
    assert not Delivery.objects.filter(attempt=attempt, state=S.UNKNOWN).exists()
    assert sorted(_copies(handler)) == ["a@example.com", "b@example.com"]
