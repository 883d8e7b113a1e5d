"""The next message's envelope sent behind a final dot (RFC 2920), against a real aiosmtpd server offering PIPELINING.

One round trip per message instead of two; what is sent ahead never decides a message's outcome, and a DATA opened
ahead for a message that will not go is abandoned by dropping the connection, so the server discards it.
"""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mailings.delivery.engine import BATCH_SIZE_FIRST, StopReason, attempt_deliver, next_batch_size
from mailings.delivery.smtp import Outcome, SendResult, SmtpConfig, SmtpSession
from mailings.models import Delivery
from mailings.tests.sending_support import assert_never_twice, fast_settings, make_run, states
from tests.support import SinkHandler, SmtpServer
from users.models import User

S = Delivery.State


async def _advertise_pipelining(server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> Any:
    session.host_name = hostname
    return [*responses[:-1], "250-PIPELINING", responses[-1]]


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    smtp_server = SmtpServer().start()
    smtp_server.handler.handle_EHLO = _advertise_pipelining  # type: ignore[attr-defined]
    try:
        yield smtp_server
    finally:
        smtp_server.stop()
    assert_never_twice(smtp_server.handler)


def _session(server: SmtpServer) -> SmtpSession:
    config = SmtpConfig(
        host="127.0.0.1",
        port=server.port,
        username="",
        password="",
        use_tls=False,
        use_ssl=False,
        timeout=2.0,
        local_hostname="vestnik.example",
    )
    session = SmtpSession(config)
    session.open(deadline=time.monotonic() + 5)
    assert session.pipelining
    return session


def _message(to: str) -> bytes:
    return f"To: {to}\r\nSubject: test\r\n\r\nHello {to}\r\n".encode()


def _send_result(session: SmtpSession, to: str, next_to: str | None = None, *, data: bytes | None = None) -> SendResult:
    return session.send(
        from_addr="sender@example.com",
        to_addr=to,
        data=_message(to) if data is None else data,
        deadline=time.monotonic() + 5,
        before_dot=lambda: True,
        next_to=next_to,
    )


def _send(session: SmtpSession, to: str, next_to: str | None = None) -> Outcome:
    return _send_result(session, to, next_to).outcome


def _count_envelope_writes(session: SmtpSession, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every command written on its own (smtplib's send: envelopes, RSET, QUIT); a message's content goes by
    sendall, with what follows it."""
    smtp: Any = session._smtp
    writes: list[bytes] = []
    real = smtp.send

    def counting(data: Any) -> None:
        writes.append(data if isinstance(data, bytes) else data.encode())
        real(data)

    monkeypatch.setattr(smtp, "send", counting)
    return writes


def test_the_next_envelope_goes_behind_the_dot_and_each_message_arrives_once(
    server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _session(server)
    writes = _count_envelope_writes(session, monkeypatch)
    rcpts = ["a@example.com", "b@example.com", "c@example.com"]

    assert _send(session, rcpts[0], next_to=rcpts[1]) == Outcome.SENT
    assert _send(session, rcpts[1], next_to=rcpts[2]) == Outcome.SENT
    assert _send(session, rcpts[2]) == Outcome.SENT
    session.close()

    # Only the first envelope was a write of its own; the other two rode behind the previous final dot.
    envelopes = [w for w in writes if bytes(w).startswith(b"MAIL")]
    assert len(envelopes) == 1 and envelopes[0].startswith(b"MAIL FROM:<sender@example.com>")
    assert [m.rcpt_tos for m in server.messages] == [[r] for r in rcpts]
    assert [m.parsed["To"] for m in server.messages] == rcpts


def test_a_message_that_will_not_go_after_its_envelope_went_ahead_is_discarded_with_the_connection(
    server: SmtpServer,
) -> None:
    session = _session(server)
    assert _send(session, "a@example.com", next_to="b@example.com") == Outcome.SENT
    assert session.is_open

    # b was, say, unsubscribed meanwhile: the next message is c's. Its DATA is open for b: only dropping ends it.
    session.expect("c@example.com")
    assert not session.is_open
    session.open(deadline=time.monotonic() + 5)
    assert _send(session, "c@example.com") == Outcome.SENT
    session.close()

    assert [m.rcpt_tos for m in server.messages] == [["a@example.com"], ["c@example.com"]]


def test_closing_with_a_data_open_ahead_sends_no_quit_into_the_message(server: SmtpServer) -> None:
    session = _session(server)
    assert _send(session, "a@example.com", next_to="b@example.com") == Outcome.SENT

    session.close()

    assert not session.is_open
    # "QUIT" would have been b's content, and a dot never came: the server kept nothing for b.
    assert [m.rcpt_tos for m in server.messages] == [["a@example.com"]]


def test_a_refusal_of_the_envelope_sent_ahead_resets_and_the_next_message_is_judged_on_its_own(
    server: SmtpServer,
) -> None:
    server.handler.on_rcpt = lambda a: "550 5.1.1 User unknown" if a.startswith("b@") else None
    session = _session(server)

    assert _send(session, "a@example.com", next_to="b@example.com") == Outcome.SENT
    assert session.is_open  # reset, not dropped
    result = _send_result(session, "b@example.com", "c@example.com")
    assert (result.outcome, result.code) == (Outcome.FAILED, 550)
    assert _send(session, "c@example.com") == Outcome.SENT
    session.close()

    assert [m.rcpt_tos for m in server.messages] == [["a@example.com"], ["c@example.com"]]


def test_a_refused_message_with_the_next_envelope_behind_it_keeps_the_connection_for_the_next(
    server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.handler.on_data = lambda rcpts: "451 4.3.0 Try again later" if rcpts == ["a@example.com"] else None
    session = _session(server)
    writes = _count_envelope_writes(session, monkeypatch)

    first = _send_result(session, "a@example.com", "b@example.com")
    assert (first.outcome, first.code) == (Outcome.TRANSIENT, 451)
    assert _send(session, "b@example.com") == Outcome.SENT
    session.close()

    # No RSET and no second envelope: b's DATA was already open when a's refusal was read.
    assert [bytes(w).split(b" ")[0].split(b"\r")[0].upper() for w in writes] == [b"MAIL", b"QUIT"]
    assert [m.rcpt_tos for m in server.messages] == [["b@example.com"]]


@pytest.mark.django_db
def test_a_run_skips_a_recipient_whose_envelope_went_ahead_and_sends_everyone_else_once(
    server: SmtpServer, owner: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailings.delivery import engine

    fast_settings(settings, port=server.port)
    rcpts = [f"r{i}@example.com" for i in range(6)]
    _m, attempt = make_run(owner, rcpts)
    real = engine._Engine._check_suppressed

    def r3_unsubscribes_once_its_envelope_went_ahead(self: Any, rest: list[Delivery], *, force: bool) -> None:
        real(self, rest, force=force)
        if rest and rest[0].email == "r3@example.com":
            self.suppressed[rest[0].pk] = "unsubscribed"

    monkeypatch.setattr(engine._Engine, "_check_suppressed", r3_unsubscribes_once_its_envelope_went_ahead)

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE

    got = states(attempt)
    assert got.pop("r3@example.com") == S.SKIPPED
    assert set(got.values()) == {S.SENT}
    assert sorted(r for m in server.messages for r in m.rcpt_tos) == sorted(set(rcpts) - {"r3@example.com"})


@pytest.mark.parametrize(
    ("most", "sent", "seconds", "paced", "expected"),
    [
        (500, 50, 0.01, False, 500),  # fast: as many as half a second holds, up to SEND_BATCH_SIZE
        (500, 50, 0.1, False, 250),
        (500, 50, 5.0, False, BATCH_SIZE_FIRST),  # slow server: small claims
        (10, 10, 0.001, False, 10),  # never more than SEND_BATCH_SIZE
        (10, 10, 60.0, False, 10),  # nor fewer than the first claim when SEND_BATCH_SIZE is below it
        (20, 20, 0.01, True, 20),  # paced by a per-second limit: the limit's size
        (500, 0, 0.0, False, BATCH_SIZE_FIRST),
    ],
)
def test_a_claim_lasts_about_half_a_second_at_the_speed_just_seen(
    most: int, sent: int, seconds: float, paced: bool, expected: int
) -> None:
    assert next_batch_size(most=most, sent=sent, seconds=seconds, paced=paced) == expected


class _ClosingAfterA(SinkHandler):
    """Closes the connection a moment after accepting a's message (and the envelope that followed it)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str | bytes:
        reply = await super().handle_DATA(server, session, envelope)
        if envelope.rcpt_tos == ["a@example.com"]:
            asyncio.get_running_loop().call_later(0.2, server.transport.close)
        return reply


def test_a_server_that_closes_between_messages_costs_a_retry_not_an_unknown_outcome() -> None:
    smtp_server = SmtpServer(_ClosingAfterA()).start()
    smtp_server.handler.handle_EHLO = _advertise_pipelining  # type: ignore[attr-defined]
    try:
        session = _session(smtp_server)
        assert _send(session, "a@example.com", next_to="b@example.com") == Outcome.SENT
        time.sleep(1.0)  # the server closes b's open DATA meanwhile
        hand_overs: list[str] = []

        def hand_over() -> bool:
            hand_overs.append("b")
            return True

        result = session.send(
            from_addr="sender@example.com",
            to_addr="b@example.com",
            data=_message("b@example.com"),
            deadline=time.monotonic() + 5,
            before_dot=hand_over,
        )
    finally:
        smtp_server.stop()
    # Found before the hand-over: retried later, never reported as possibly delivered.
    assert (result.outcome, result.reason and result.reason.code) == (Outcome.TRANSIENT, "lost_before_dot")
    assert hand_overs == [] and not session.is_open
    assert [m.rcpt_tos for m in smtp_server.messages] == [["a@example.com"]]


class _FailingAfter:
    """The session's socket, except that writing fails once `limit` bytes have been taken.

    A stand-in: a real kernel cannot be made to fail a write at a chosen byte.
    """

    def __init__(self, sock: Any, limit: int) -> None:
        self._sock, self.limit = sock, limit

    def send(self, data: Any) -> int:
        if self.limit <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        chunk = bytes(data[: self.limit])
        sent = int(self._sock.send(chunk))
        self.limit -= sent
        return sent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@pytest.mark.parametrize(
    ("cut", "outcome"),
    [("in the message", Outcome.TRANSIENT), ("after the dot, in the envelope behind it", Outcome.UNKNOWN)],
)
def test_a_write_failing_behind_the_dot_counts_the_message_as_possibly_delivered(
    server: SmtpServer, cut: str, outcome: Outcome
) -> None:
    session = _session(server)
    smtp: Any = session._smtp
    data = _message("a@example.com")
    limit = len(data) // 2 if cut == "in the message" else len(data) + len(b".\r\n") + 10
    assert _send(session, "z@example.com") == Outcome.SENT  # the reader is set up on the real socket
    smtp.sock = _FailingAfter(smtp.sock, limit)

    result = _send_result(session, "a@example.com", "b@example.com", data=data)

    assert result.outcome == outcome
    assert not session.is_open


def test_closing_after_a_failure_between_354_and_the_dot_never_writes_quit_into_the_message(
    server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _session(server)
    writes = _count_envelope_writes(session, monkeypatch)

    def hand_over_fails() -> bool:
        raise ValueError("an unexpected error in the hand-over")

    with pytest.raises(ValueError):
        session.send(
            from_addr="sender@example.com",
            to_addr="a@example.com",
            data=_message("a@example.com"),
            deadline=time.monotonic() + 5,
            before_dot=hand_over_fails,
        )
    session.close()

    assert not any(bytes(w).upper().startswith(b"QUIT") for w in writes)
    assert server.messages == []
