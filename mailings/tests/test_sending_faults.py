"""Lower-level SMTP faults: stalls, drops around the final dot, odd replies, refused connections, AUTH.

For each: the states and replies recorded, the copies the server received (never 2), and the
worker alive (attempt_deliver returns instead of raising or hanging).
"""

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from mailings.delivery.engine import StopReason, attempt_deliver
from mailings.delivery.recovery import attempts_wake_due_retries
from mailings.delivery.run_finish import summary_text
from mailings.delivery.status import mailing_sending_status
from mailings.models import Attempt, Delivery, SmtpAccountState
from mailings.tests.sending_support import (
    DroppingHandler,
    FaultySMTP,
    ServerFactory,
    copies,
    delivery,
    fast_settings,
    free_port,
    make_run,
    serving,
    states,
)
from tests.support import SinkHandler
from users.models import User

pytestmark = pytest.mark.django_db

S = Delivery.State
ABC = ["a@example.com", "b@example.com", "c@example.com"]


@pytest.fixture
def sink(settings: Any) -> Iterator[ServerFactory]:
    factory = ServerFactory()
    with serving(factory):
        fast_settings(settings, port=factory.port)
        yield factory


def _serve(settings: Any, factory: ServerFactory) -> Any:
    ctx = serving(factory)
    ctx.__enter__()
    fast_settings(settings, port=factory.port)
    return ctx


def test_a_stalled_reply_to_the_final_dot_is_unknown_and_never_resent(sink: ServerFactory, owner: User) -> None:
    async def stall(rcpts: list[str]) -> None:
        if "b@example.com" in rcpts:
            await asyncio.sleep(2.5)

    sink.handler.on_data = stall
    _m, attempt = make_run(owner)

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE

    b = delivery(attempt, "b@example.com")
    assert b.state == S.UNKNOWN and b.handed_over
    assert "после завершающей точки" in b.reason_text
    assert states(attempt)["c@example.com"] == S.SENT
    with time_machine.travel(timezone.now() + timedelta(hours=3), tick=True):
        assert attempts_wake_due_retries(now=timezone.now()) == 0
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.FINAL
    assert copies(sink.handler, "b@example.com") <= 1
    attempt.refresh_from_db()
    assert attempt.unknown_count == 1


def test_the_per_message_deadline_bounds_a_slow_server(sink: ServerFactory, owner: User, settings: Any) -> None:
    settings.SEND_MESSAGE_DEADLINE = 1.5

    async def slow(_arg: Any) -> None:
        await asyncio.sleep(0.8)  # each reply within EMAIL_TIMEOUT (1 s), the message not within 1.5 s

    sink.handler.on_rcpt = slow
    sink.handler.on_data = slow
    _m, attempt = make_run(owner, ["a@example.com"])

    attempt_deliver(attempt_id=attempt.pk)

    a = delivery(attempt, "a@example.com")
    assert a.state == S.UNKNOWN and "превышено время" in a.reason_text


@pytest.mark.parametrize("where", ["rcpt", "after_data"])
def test_a_dropped_connection_before_or_after_the_dot(settings: Any, owner: User, where: str) -> None:
    handler = (
        DroppingHandler(at_rcpt={"b@example.com"}) if where == "rcpt" else DroppingHandler(after_data={"b@example.com"})
    )
    with serving(ServerFactory(handler)) as factory:
        fast_settings(settings, port=factory.port)
        _m, attempt = make_run(owner)

        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE

        b = delivery(attempt, "b@example.com")
        if where == "rcpt":
            # Lost before the final dot: the server cannot have it, so it is retried later.
            assert b.state == S.RETRY_WAIT and not b.handed_over and "до завершающей точки" in b.reason_text
            assert copies(handler, "b@example.com") == 0
        else:
            # Lost after the final dot: the server has it; reported unknown, never resent.
            assert b.state == S.UNKNOWN and b.handed_over
            assert copies(handler, "b@example.com") == 1
        assert states(attempt)["c@example.com"] == S.SENT
        with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=True):
            handler.at_rcpt.clear()
            attempt_deliver(attempt_id=attempt.pk)
        assert copies(handler, "b@example.com") == 1
        assert all(copies(handler, e) == 1 for e in ABC)


def test_a_malformed_reply_to_the_dot_is_unknown(sink: ServerFactory, owner: User) -> None:
    sink.handler.on_data = lambda rcpts: "Thanks, got it" if "a@example.com" in rcpts else None
    _m, attempt = make_run(owner)

    attempt_deliver(attempt_id=attempt.pk)

    a = delivery(attempt, "a@example.com")
    assert a.state == S.UNKNOWN and "непонятный ответ" in a.reason_text and a.smtp_reply == "Thanks, got it"
    assert states(attempt)["b@example.com"] == S.SENT


def test_a_very_long_reply_is_not_a_verdict(sink: ServerFactory, owner: User) -> None:
    long_tail = "x" * 9000
    sink.handler.on_rcpt = lambda a: f"550 5.1.1 {long_tail}" if a == "a@example.com" else None
    sink.handler.on_data = lambda rcpts: f"250 2.0.0 {long_tail}" if "b@example.com" in rcpts else None
    _m, attempt = make_run(owner)

    attempt_deliver(attempt_id=attempt.pk)

    a = delivery(attempt, "a@example.com")
    # smtplib invented "500 Line too long": not a permanent verdict on the recipient.
    assert a.state == S.RETRY_WAIT and a.smtp_code is None and "8 КБ" in a.reason_text
    b = delivery(attempt, "b@example.com")
    # The same after the final dot: the server may have the message, so unknown (never resent).
    assert b.state == S.UNKNOWN and "8 КБ" in b.reason_text
    assert states(attempt)["c@example.com"] == S.SENT


def test_a_non_utf8_reply_is_stored_sanitised(sink: ServerFactory, owner: User) -> None:
    raw = b"550 5.1.1 \xff\xfe\x01\x1b[31m no such user"
    sink.handler.on_rcpt = lambda a: raw if a == "a@example.com" else None
    _m, attempt = make_run(owner)

    attempt_deliver(attempt_id=attempt.pk)

    a = delivery(attempt, "a@example.com")
    assert a.state == S.FAILED and a.smtp_code == 550
    assert a.smtp_reply == "550 5.1.1 \ufffd\ufffd [31m no such user"
    attempt.refresh_from_db()
    assert "550 5.1.1" in attempt.server_response


def test_a_stalled_greeting_opens_the_breaker_without_failing_anyone(settings: Any, owner: User) -> None:
    factory = ServerFactory()

    class Stalling(FaultySMTP):
        greeting_delay = 2.5

    factory.smtp_class = Stalling
    with serving(factory):
        fast_settings(settings, port=factory.port)
        mailing, attempt = make_run(owner)

        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED

    assert set(states(attempt).values()) == {S.PENDING}
    assert set(Delivery.objects.filter(attempt=attempt).values_list("tries", flat=True)) == {0}
    state = SmtpAccountState.objects.get()
    assert state.breaker_open_until is not None and "приветствия" in state.breaker_reason_text
    status = mailing_sending_status(mailing=mailing)
    assert status.paused and status.next_probe_at == state.breaker_open_until
    assert factory.handler.messages == []


def test_refused_connections_pause_sending_then_a_probe_resumes_it(settings: Any, owner: User) -> None:
    port = free_port()
    fast_settings(settings, port=port)
    mailing, attempt = make_run(owner)
    start = timezone.now()

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED
    state = SmtpAccountState.objects.get()
    first_until = state.breaker_open_until
    assert first_until is not None and timedelta(seconds=29) < first_until - start < timedelta(seconds=35)
    assert set(states(attempt).values()) == {S.PENDING}
    # Nobody contacts the server while the breaker is open.
    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED
    assert attempts_wake_due_retries(now=timezone.now()) == 0

    with time_machine.travel(start + timedelta(seconds=40), tick=True):
        # The probe fails again: the pause grows (30 s, then 60 s).
        assert attempts_wake_due_retries(now=timezone.now()) == 1
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED
        state.refresh_from_db()
        assert state.breaker_opens == 2
        assert state.breaker_open_until is not None
        assert timedelta(seconds=59) < state.breaker_open_until - timezone.now() < timedelta(seconds=65)

    handler = SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with time_machine.travel(start + timedelta(seconds=110), tick=True):
            assert attempts_wake_due_retries(now=timezone.now()) == 1
            assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE
    finally:
        controller.stop()
    assert set(states(attempt).values()) == {S.SENT}
    assert all(len(handler.to(e)) == 1 for e in ABC)
    state.refresh_from_db()
    assert state.breaker_open_until is None and state.breaker_opens == 0
    assert not mailing_sending_status(mailing=mailing).paused


def test_an_auth_failure_opens_the_breaker(settings: Any, owner: User) -> None:
    factory = ServerFactory(
        auth_require_tls=False, authenticator=lambda *args: AuthResult(success=False, handled=False)
    )
    with serving(factory):
        fast_settings(settings, port=factory.port)
        settings.EMAIL_HOST_USER = "vestnik"
        settings.EMAIL_HOST_PASSWORD = "wrong"
        _m, attempt = make_run(owner)

        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED

    assert set(states(attempt).values()) == {S.PENDING}
    state = SmtpAccountState.objects.get(account__startswith="vestnik@")
    assert "авторизации" in state.breaker_reason_text and "wrong" not in state.account


@pytest.mark.parametrize(
    "reply",
    [
        "550 5.7.1 Sender rejected",
        "530 5.7.0 Authentication required",
        # Account-wide throttling: not a reason to spend any recipient's tries.
        "451 4.7.1 Ratelimit exceeded",
    ],
)
def test_a_refused_sender_opens_the_breaker(settings: Any, owner: User, reply: str) -> None:
    factory = ServerFactory()

    class RefusingSender(FaultySMTP):
        mail_reply = reply

    factory.smtp_class = RefusingSender
    with serving(factory):
        fast_settings(settings, port=factory.port)
        _m, attempt = make_run(owner)

        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED

    assert set(states(attempt).values()) == {S.PENDING}
    assert set(Delivery.objects.filter(attempt=attempt).values_list("tries", flat=True)) == {0}
    assert reply in SmtpAccountState.objects.get().breaker_reason_text


def test_k_consecutive_connection_failures_open_the_breaker(settings: Any, owner: User) -> None:
    handler = DroppingHandler(at_rcpt={"*"})
    with serving(ServerFactory(handler)) as factory:
        fast_settings(settings, port=factory.port)
        _m, attempt = make_run(owner, [f"{x}@example.com" for x in "abcde"])

        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED

    got = states(attempt)
    # The three tried ones wait for their back-off; the others were never tried.
    assert [got[f"{x}@example.com"] for x in "abcde"] == [S.RETRY_WAIT] * 3 + [S.PENDING] * 2
    state = SmtpAccountState.objects.get()
    assert state.breaker_open_until is not None
    assert Delivery.objects.filter(attempt=attempt, state=S.PENDING, next_try_at=state.breaker_open_until).count() == 2
    assert handler.messages == []


@pytest.mark.parametrize("setting", ["EMAIL_USE_TLS", "EMAIL_USE_SSL"])
def test_a_tls_failure_opens_the_breaker(sink: ServerFactory, owner: User, settings: Any, setting: str) -> None:
    # The test server speaks neither STARTTLS nor implicit TLS.
    setattr(settings, setting, True)
    _m, attempt = make_run(owner)

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED

    assert set(states(attempt).values()) == {S.PENDING}
    assert "TLS" in SmtpAccountState.objects.get().breaker_reason_text
    assert sink.handler.messages == []


def test_end_at_passing_during_the_envelope_stops_the_message_before_the_final_dot(
    sink: ServerFactory, owner: User, settings: Any
) -> None:
    settings.EMAIL_TIMEOUT = 5.0
    settings.SEND_MESSAGE_DEADLINE = 8.0

    async def slow_rcpt(address: str) -> None:
        await asyncio.sleep(1.5)

    sink.handler.on_rcpt = slow_rcpt
    _m, attempt = make_run(owner, ["a@example.com", "b@example.com"], end_in=timedelta(seconds=1))

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.BLOCKED

    assert states(attempt) == {"a@example.com": S.SKIPPED, "b@example.com": S.SKIPPED}
    a = delivery(attempt, "a@example.com")
    assert a.reason_text == "время рассылки истекло" and not a.handed_over and a.tries == 0
    assert sink.handler.messages == []


@pytest.mark.parametrize("group", [25, 1], ids=["grouped marks", "one mark per message"])
def test_a_database_error_at_the_hand_over_abandons_the_message_for_a_retry(
    sink: ServerFactory, owner: User, settings: Any, group: int
) -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the lock is simulated with an SQLite trigger")
    settings.SEND_HANDOVER_GROUP = group
    _m, attempt = make_run(owner, ["a@example.com"])
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TRIGGER hand_over_locked BEFORE UPDATE OF handed_over ON mailings_delivery "
            "WHEN NEW.handed_over BEGIN SELECT RAISE(ABORT, 'database is locked'); END"
        )
    try:
        assert attempt_deliver(attempt_id=attempt.pk, max_seconds=0.5) in (StopReason.BUDGET, StopReason.IDLE)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER hand_over_locked")

    a = delivery(attempt, "a@example.com")
    assert a.state == S.PENDING and not a.handed_over and a.tries == 0
    assert sink.handler.messages == []

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE
    assert states(attempt) == {"a@example.com": S.SENT}


@contextmanager
def _dribbling_greeting_server() -> Iterator[int]:
    """A raw TCP server that sends "220-" continuation lines every 0.3 s and never completes its greeting."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.05)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _addr = listener.accept()
                conns.append(conn)
            for conn in list(conns):
                try:
                    conn.sendall(b"220-still greeting you\r\n")
                except OSError:
                    conns.remove(conn)
            stop.wait(0.3)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for conn in conns:
            conn.close()
        listener.close()


def test_a_greeting_dribbled_forever_hits_the_deadline_and_opens_the_breaker(settings: Any, owner: User) -> None:
    with _dribbling_greeting_server() as port:
        fast_settings(settings, port=port)
        settings.EMAIL_TIMEOUT = 1.0
        settings.SEND_MESSAGE_DEADLINE = 2.0
        _m, attempt = make_run(owner)
        # Without the deadline the read would wait for ever; with it the breaker opens "not in time".
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED
    assert set(states(attempt).values()) == {S.PENDING}
    assert set(Delivery.objects.filter(attempt=attempt).values_list("tries", flat=True)) == {0}
    state = SmtpAccountState.objects.get()
    assert state.breaker_open_until is not None and "вовремя" in state.breaker_reason_text


def test_an_unreachable_server_is_shown_on_the_waiting_run_and_ends_it_failed_with_the_real_cause(
    settings: Any, owner: User, client: Client
) -> None:
    port = free_port()
    fast_settings(settings, port=port)
    mailing, attempt = make_run(owner, end_in=timedelta(minutes=10))
    start = timezone.now()

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED

    # While it waits, every delivery says why, and so do the attempt's page and its reply summary.
    waiting = list(Delivery.objects.filter(attempt=attempt))
    assert {d.state for d in waiting} == {S.PENDING} and {d.tries for d in waiting} == {0}
    assert {d.reason for d in waiting} == {"connection_refused"}
    client.force_login(owner)
    html = client.get(reverse("mailings:attempt_detail", args=[attempt.pk])).content.decode()
    assert "соединение отклонено" in html and "В очереди: соединение отклонено" in html
    assert "Отправка приостановлена: почтовый сервер недоступен" in html

    # The window closes while the server is still away: the run ends, failed with the server's trouble.
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.BLOCKED
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.FAILURE and attempt.failed_count == 3 and attempt.skipped_count == 0
    ended = list(Delivery.objects.filter(attempt=attempt))
    assert {d.state for d in ended} == {S.FAILED} and {d.tries for d in ended} == {0}
    assert all(d.reason_text.startswith("соединение отклонено") for d in ended)
    assert attempt.server_response.startswith("Не доставлено: соединение отклонено")
    with translation.override("en"):
        assert summary_text(attempt.summary or []).startswith("Not delivered: connection refused")
