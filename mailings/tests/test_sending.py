"""The delivery engine against a real aiosmtpd server: per-recipient outcomes (docs/architecture.md, failure policy)."""

import email.policy
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_string
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from mailings.delivery.engine import StopReason, attempt_deliver
from mailings.delivery.recovery import attempts_wake_due_retries, deliveries_sweep_expired_leases
from mailings.delivery.run_finish import attempt_finish_if_done
from mailings.models import Attempt, Delivery, Mailing, Message
from mailings.tests.sending_support import (
    assert_never_twice,
    copies,
    delivery,
    fast_settings,
    make_run,
    smtp_server_on_free_port,
    states,
)
from tests.support import SmtpServer
from users.models import User

pytestmark = pytest.mark.django_db

S = Delivery.State


async def _advertise_pipelining(server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> Any:
    session.host_name = hostname
    return [*responses[:-1], "250-PIPELINING", responses[-1]]


@pytest.fixture(params=["one command at a time", "pipelining"])
def server(settings: Any, request: Any) -> Iterator[SmtpServer]:
    """A real aiosmtpd server; the second pass advertises PIPELINING so the engine batches MAIL/RCPT/DATA."""
    smtp_server = smtp_server_on_free_port()
    if request.param == "pipelining":
        # aiosmtpd calls a handler's handle_EHLO when it has one; SinkHandler has none of its own.
        smtp_server.handler.handle_EHLO = _advertise_pipelining  # type: ignore[attr-defined]
    fast_settings(settings, port=smtp_server.controller.port)
    try:
        yield smtp_server
    finally:
        smtp_server.stop()
    assert_never_twice(smtp_server.handler)


def test_it_sends_one_message_per_recipient_and_records_the_ledger(server: SmtpServer, owner: User) -> None:
    mailing, attempt = make_run(owner, [f"r{i}@example.com" for i in range(25)])

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE

    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUCCESS
    assert (attempt.total_count, attempt.sent_count, attempt.failed_count) == (25, 25, 0)
    assert attempt.server_response == "250 2.0.0 Ok ×25"
    assert len(server.messages) == 25
    for m in server.messages:
        assert len(m.rcpt_tos) == 1
        assert m.parsed["To"].addresses[0].addr_spec == m.rcpt_tos[0]
        assert m.subject == "Новости недели"
        # A body line starting with a dot survives dot-stuffing.
        assert ".Точка в начале строки" in m.text
    d = delivery(attempt, "r3@example.com")
    assert d.smtp_code == 250 and d.smtp_reply.startswith("250 2.0.0 Ok")
    assert d.tries == 1 and d.handed_over and d.finished_at is not None
    assert d.message_id and server.handler.to("r3@example.com")[0].parsed["Message-ID"] == d.message_id
    assert len({d.message_id for d in Delivery.objects.filter(attempt=attempt)}) == 25
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.RUNNING


def test_5xx_on_rcpt_fails_that_recipient_at_once_and_the_rest_go_on(server: SmtpServer, owner: User) -> None:
    server.handler.on_rcpt = lambda a: "550 5.1.1 User unknown" if a.startswith("b@") else None
    _m, attempt = make_run(owner)

    attempt_deliver(attempt_id=attempt.pk)

    assert states(attempt) == {"a@example.com": S.SENT, "b@example.com": S.FAILED, "c@example.com": S.SENT}
    b = delivery(attempt, "b@example.com")
    assert (b.smtp_code, b.smtp_reply) == (550, "550 5.1.1 User unknown")
    assert copies(server.handler, "b@example.com") == 0
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.FAILURE
    assert attempt.server_response == "250 2.0.0 Ok ×2; 550 5.1.1 User unknown ×1"
    assert (attempt.sent_count, attempt.failed_count) == (2, 1)


def test_5xx_after_the_data_fails_that_recipient(server: SmtpServer, owner: User) -> None:
    server.handler.on_data = lambda rcpts: "554 5.7.1 Spam detected" if "c@example.com" in rcpts else None
    _m, attempt = make_run(owner)

    attempt_deliver(attempt_id=attempt.pk)

    c = delivery(attempt, "c@example.com")
    assert (c.state, c.smtp_code, c.smtp_reply) == (S.FAILED, 554, "554 5.7.1 Spam detected")
    assert states(attempt)["a@example.com"] == S.SENT


def test_4xx_on_rcpt_waits_with_back_off_then_is_sent(server: SmtpServer, owner: User) -> None:
    refuse = {"b@example.com"}
    server.handler.on_rcpt = lambda a: "450 4.2.1 Mailbox busy" if a in refuse else None
    _m, attempt = make_run(owner)
    start = timezone.now()

    attempt_deliver(attempt_id=attempt.pk)

    b = delivery(attempt, "b@example.com")
    assert (b.state, b.smtp_code, b.tries) == (S.RETRY_WAIT, 450, 1)
    assert b.next_try_at is not None
    assert timedelta(seconds=59) < b.next_try_at - start < timedelta(seconds=70)
    assert attempts_wake_due_retries(now=timezone.now()) == 0  # not due yet
    refuse.clear()
    with time_machine.travel(start + timedelta(seconds=75), tick=True):
        assert attempts_wake_due_retries(now=timezone.now()) == 1
        assert attempts_wake_due_retries(now=timezone.now()) == 0  # no flooding: one wake per interval
        attempt_deliver(attempt_id=attempt.pk)
    b.refresh_from_db()
    assert (b.state, b.tries) == (S.SENT, 2)
    assert copies(server.handler, "b@example.com") == 1
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUCCESS


def test_4xx_on_data_retries_until_the_maximum_age_then_fails(server: SmtpServer, owner: User, settings: Any) -> None:
    settings.SEND_RETRY_MAX_AGE = 300
    server.handler.on_data = lambda rcpts: "451 4.3.0 Try later" if "a@example.com" in rcpts else None
    _m, attempt = make_run(owner)
    start = timezone.now()

    attempt_deliver(attempt_id=attempt.pk)
    assert delivery(attempt, "a@example.com").state == S.RETRY_WAIT
    with time_machine.travel(start + timedelta(seconds=61), tick=True):
        attempt_deliver(attempt_id=attempt.pk)
    a = delivery(attempt, "a@example.com")
    # 60 s, then 300 s more would pass the 300 s maximum age: failed with the last reply.
    assert (a.state, a.smtp_code, a.tries) == (S.FAILED, 451, 2)
    assert "повторы исчерпаны" in a.reason_text
    assert copies(server.handler, "a@example.com") == 0
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.FAILURE


def test_retries_stop_at_the_mailings_end(server: SmtpServer, owner: User) -> None:
    server.handler.on_rcpt = lambda a: "452 4.2.2 Over quota"
    _m, attempt = make_run(owner, ["a@example.com"], end_in=timedelta(seconds=30))

    attempt_deliver(attempt_id=attempt.pk)

    a = delivery(attempt, "a@example.com")
    assert a.state == S.FAILED and a.smtp_code == 452


def test_421_in_the_middle_of_a_batch_retries_that_one_and_reconnects(server: SmtpServer, owner: User) -> None:
    server.handler.on_rcpt = lambda a: "421 4.3.2 Service shutting down" if a == "c@example.com" else None
    _m, attempt = make_run(owner, [f"{x}@example.com" for x in "abcde"])

    attempt_deliver(attempt_id=attempt.pk)

    got = states(attempt)
    assert got.pop("c@example.com") == S.RETRY_WAIT
    assert set(got.values()) == {S.SENT}
    assert delivery(attempt, "c@example.com").smtp_code == 421
    assert all(copies(server.handler, f"{x}@example.com") == 1 for x in "abde")


def test_a_recipient_name_with_control_characters_is_sent_cleanly(server: SmtpServer, owner: User) -> None:
    names = ["Иван\r\nBcc: evil@example.org", "Пётр\x0b\x1c\x1e\x7f Сидоров", "Обычный"]
    _m, attempt = make_run(owner, names=names)

    attempt_deliver(attempt_id=attempt.pk)

    assert set(states(attempt).values()) == {S.SENT}
    assert len(server.messages) == 3
    for m in server.messages:
        assert "Bcc" not in m.parsed and len(m.rcpt_tos) == 1
    assert server.handler.to("b@example.com")[0].parsed["To"].addresses[0].display_name == "Пётр Сидоров"


def test_a_message_that_cannot_be_built_fails_alone(server: SmtpServer, owner: User) -> None:
    _m, attempt = make_run(owner, ["a@example.com", "bad address@example.com", "c@example.com"])

    attempt_deliver(attempt_id=attempt.pk)

    bad = delivery(attempt, "bad address@example.com")
    assert bad.state == S.FAILED and "build" in bad.reason_text and bad.smtp_code is None
    assert states(attempt)["c@example.com"] == S.SENT
    attempt.refresh_from_db()
    assert "build" in attempt.server_response


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("disable", "рассылка отключена"),
        ("block", "владелец заблокирован"),
    ],
)
def test_a_stopped_mailing_or_owner_skips_the_rest(server: SmtpServer, owner: User, change: str, reason: str) -> None:
    mailing, attempt = make_run(owner)
    if change == "disable":
        Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)
    else:
        type(owner).objects.filter(pk=owner.pk).update(is_active=False, blocked_at=timezone.now())

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.BLOCKED

    assert set(states(attempt).values()) == {S.SKIPPED}
    assert {d.reason_text for d in Delivery.objects.filter(attempt=attempt)} == {reason}
    assert server.messages == []
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.FAILURE and attempt.skipped_count == 3
    assert f"{reason} ×3" in attempt.server_response


def test_nothing_is_sent_after_end_at(server: SmtpServer, owner: User) -> None:
    _m, attempt = make_run(owner, end_in=timedelta(minutes=5))
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=True):
        attempt_deliver(attempt_id=attempt.pk)
    assert {d.reason_text for d in Delivery.objects.filter(attempt=attempt)} == {"время рассылки истекло"}
    assert server.messages == []


def test_finish_waits_for_every_delivery_and_happens_once(server: SmtpServer, owner: User) -> None:
    _m, attempt = make_run(owner)
    assert attempt_finish_if_done(attempt_id=attempt.pk) is False
    attempt_deliver(attempt_id=attempt.pk)
    assert attempt_finish_if_done(attempt_id=attempt.pk) is False  # already finished by the task
    attempt.refresh_from_db()
    assert attempt.finished_at is not None and attempt.status == Attempt.Status.SUCCESS


def test_a_final_attempt_is_left_alone(server: SmtpServer, owner: User) -> None:
    _m, attempt = make_run(owner)
    attempt_deliver(attempt_id=attempt.pk)
    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.FINAL
    assert len(server.messages) == 3


def test_a_subject_with_control_characters_is_sent_cleaned(server: SmtpServer, owner: User) -> None:
    _m, attempt = make_run(owner, ["a@example.com"])
    Message.objects.filter(pk=attempt.mailing.message_id).update(
        subject='Скидки\x0b\x1c "до 50%"\r\nBcc: x@example.org'
    )

    attempt_deliver(attempt_id=attempt.pk)

    assert states(attempt) == {"a@example.com": S.SENT}
    assert server.messages[0].subject == 'Скидки "до 50%" Bcc: x@example.org'
    assert "Bcc" not in server.messages[0].parsed


def test_the_sweep_returns_expired_leases_and_re_enqueues(owner: User, settings: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    fast_settings(settings, port=9)
    _m, attempt = make_run(owner, ["a@example.com", "b@example.com", "c@example.com"])
    now = timezone.now()
    Delivery.objects.filter(attempt=attempt, email="a@example.com").update(
        state=S.SENDING, lease_owner="dead:1", lease_until=now - timedelta(seconds=1)
    )
    Delivery.objects.filter(attempt=attempt, email="b@example.com").update(
        state=S.SENDING, lease_owner="dead:1", lease_until=now - timedelta(seconds=1), handed_over=True
    )
    Delivery.objects.filter(attempt=attempt, email="c@example.com").update(
        state=S.SENDING, lease_owner="alive:2", lease_until=now + timedelta(minutes=1)
    )
    tasks_before = (
        DBTaskResult.objects.count() if settings.TASKS["default"]["BACKEND"].startswith("django_tasks_db") else 0
    )

    assert deliveries_sweep_expired_leases(now=now) == 2

    assert states(attempt) == {"a@example.com": S.PENDING, "b@example.com": S.UNKNOWN, "c@example.com": S.SENDING}
    b = delivery(attempt, "b@example.com")
    assert "возможна доставка" in b.reason_text and b.finished_at == now
    assert delivery(attempt, "a@example.com").lease_owner == ""
    if settings.TASKS["default"]["BACKEND"].startswith("django_tasks_db"):
        assert DBTaskResult.objects.count() == tasks_before + 1
    assert deliveries_sweep_expired_leases(now=now) == 0


def test_the_tick_finishes_a_run_whose_task_died_after_its_last_write(
    server: SmtpServer, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import DatabaseError

    from mailings.delivery import engine as sending
    from mailings.delivery.schedule import scheduler_tick

    _m, attempt = make_run(owner, ["a@example.com", "b@example.com"])

    def finish_fails(*, attempt_id: int) -> bool:
        raise DatabaseError("the task died while finishing")

    monkeypatch.setattr(sending, "attempt_finish_if_done", finish_fails)
    with pytest.raises(DatabaseError):
        attempt_deliver(attempt_id=attempt.pk)
    monkeypatch.undo()
    attempt.refresh_from_db()
    assert set(states(attempt).values()) == {S.SENT}
    assert attempt.status == Attempt.Status.IN_PROGRESS

    scheduler_tick(now=timezone.now())

    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUCCESS and attempt.finished_at is not None
    assert (attempt.total_count, attempt.sent_count) == (2, 2)
    assert "250" in attempt.server_response and "×2" in attempt.server_response
    assert len(server.messages) == 2


def test_send_now_survives_a_task_queue_that_is_away(
    owner: User, settings: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    from mailings.delivery import tasks
    from mailings.delivery.manual_runs import mailing_send_now

    fast_settings(settings, port=9)
    mailing, first = make_run(owner)
    Attempt.objects.filter(pk=first.pk).delete()

    class QueueAway:
        @staticmethod
        def enqueue(*args: Any) -> None:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    # Monkeypatched: in the default (SQLite, database queue) leg nothing real can make the enqueue fail.
    monkeypatch.setattr(tasks, "deliver_attempt", QueueAway)
    with django_capture_on_commit_callbacks(execute=True):
        attempt = mailing_send_now(mailing=mailing)

    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.IN_PROGRESS and attempt.total_count == 3
    # The scheduler wakes it once the queue is back.
    assert attempt.wake_at is not None and attempt.wake_at > timezone.now()


def test_international_addresses_go_as_punycode_or_fail_with_a_clear_reason(server: SmtpServer, owner: User) -> None:
    """A server without SMTPUTF8 (as aiosmtpd by default): the punycode domain goes, the UTF-8 local part cannot."""
    _m, attempt = make_run(owner, ["petr@почта.рф", "пётр@почта.рф"])
    attempt_deliver(attempt_id=attempt.pk)
    assert [m.rcpt_tos for m in server.messages] == [["petr@xn--80a1acny.xn--p1ai"]]
    assert server.messages[0].mail_options == []
    refused = Delivery.objects.get(attempt=attempt, email="пётр@почта.рф")
    assert refused.state == S.FAILED and refused.tries == 0
    assert refused.reason == "smtputf8_unsupported"
    assert "SMTPUTF8" in refused.reason_text and "не-ASCII" in refused.reason_text


@pytest.mark.parametrize("pipelining", [False, True], ids=["one command at a time", "pipelining"])
def test_a_non_ascii_local_part_goes_with_smtputf8_where_the_server_offers_it(
    settings: Any, owner: User, pipelining: bool
) -> None:
    utf8_server = SmtpServer(smtputf8=True).start()
    if pipelining:
        utf8_server.handler.handle_EHLO = _advertise_pipelining  # type: ignore[attr-defined]
    fast_settings(settings, port=utf8_server.port)
    try:
        _m, attempt = make_run(owner, ["пётр@почта.рф", "ivan@example.com"], names=["Пётр Петров", "Иван"])
        attempt_deliver(attempt_id=attempt.pk)
    finally:
        utf8_server.stop()
    assert states(attempt) == {"пётр@почта.рф": S.SENT, "ivan@example.com": S.SENT}
    by_rcpt = {m.rcpt_tos[0]: m for m in utf8_server.messages}
    utf8 = by_rcpt["пётр@xn--80a1acny.xn--p1ai"]
    # RFC 6531: the envelope says SMTPUTF8 (with BODY=8BITMIME, which aiosmtpd offers); the To header is UTF-8.
    assert [o.upper() for o in utf8.mail_options] == ["BODY=8BITMIME", "SMTPUTF8"]
    # Python's bytes parser leaves 8-bit headers undecoded; the message is UTF-8 throughout, so parse it as text.
    parsed = message_from_string(utf8.raw.decode("utf-8"), policy=email.policy.SMTPUTF8)
    assert parsed["To"].addresses[0].addr_spec == "пётр@xn--80a1acny.xn--p1ai"
    assert parsed["To"].addresses[0].display_name == "Пётр Петров"
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None and text.get_content().startswith("Здравствуйте!")
    # Every other message stays 7-bit and does not ask for SMTPUTF8.
    assert by_rcpt["ivan@example.com"].mail_options == [] and by_rcpt["ivan@example.com"].raw.isascii()
