"""The attempt's counters by state against the ledger at random moments of a run (mailings/delivery/counts.py)."""

import random
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from mailings.delivery import smtp
from mailings.delivery.counts import attempt_counts_check, attempt_state_counts, ledger_check
from mailings.delivery.engine import attempt_deliver
from mailings.delivery.recovery import attempts_wake_due_retries, deliveries_sweep_expired_leases
from mailings.models import Attempt, Delivery, Mailing
from mailings.selectors import delivery_state_counts, stats_totals
from mailings.tests.sending_support import fast_settings, make_run
from tests.support import SinkHandler, SmtpServer
from users.models import User

S = Delivery.State


@pytest.fixture
def server(settings: Any) -> Iterator[SmtpServer]:
    seen: Counter[str] = Counter()

    def on_rcpt(address: str) -> str | None:
        # Every third recipient is greylisted twice, every seventh refused for good, the rest accepted.
        n = int(address.split("@")[0][1:])
        seen[address] += 1
        if n % 7 == 0:
            return "550 5.1.1 User unknown"
        if n % 3 == 0 and seen[address] <= 2:
            return "451 4.7.1 Greylisted, try again later"
        return None

    srv = SmtpServer(SinkHandler(on_rcpt=on_rcpt)).start()
    fast_settings(settings, port=srv.port)
    settings.SEND_RETRY_BACKOFF = [0]
    settings.SEND_BATCH_SIZE = 7
    settings.SEND_HANDOVER_GROUP = 4
    yield srv
    srv.stop()


def _assert_counts_agree(attempt_id: int, owner: User) -> None:
    """The counters equal the ledger, and every page's figure is read from them."""
    assert attempt_counts_check(attempt_id=attempt_id, repair=False) == {}
    attempt = Attempt.objects.get(pk=attempt_id)
    ledger = dict(Counter(Delivery.objects.filter(attempt_id=attempt_id).values_list("state", flat=True)))
    assert attempt_state_counts(attempt) == ledger
    table = {state: n for state, _label, n in delivery_state_counts(attempt=attempt)}
    assert table == ledger and sum(table.values()) == attempt.total_count
    totals = stats_totals(user=owner, owner=owner)
    assert (totals["delivered"], totals["undelivered"]) == (ledger.get(S.SENT, 0), ledger.get(S.FAILED, 0))


def test_counts_match_the_ledger_at_every_moment_of_a_run_with_retries(
    server: SmtpServer, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    emails = [f"r{i}@example.com" for i in range(1, 61)]
    _mailing, attempt = make_run(owner, emails)
    pick = random.Random(21)
    checks = 0
    send = smtp.SmtpSession.send

    def send_and_check(self: smtp.SmtpSession, **kwargs: Any) -> Any:
        # A random moment mid-batch: deliveries claimed, outcomes of the batch partly buffered, partly written.
        nonlocal checks
        if pick.random() < 0.3:
            _assert_counts_agree(attempt.pk, owner)
            checks += 1
        return send(self, **kwargs)

    monkeypatch.setattr(smtp.SmtpSession, "send", send_and_check)
    for _round in range(20):
        attempt_deliver(attempt_id=attempt.pk, max_seconds=0.05)
        _assert_counts_agree(attempt.pk, owner)
        attempt.refresh_from_db()
        if attempt.is_final:
            break
    assert attempt.is_final and checks >= 10
    expected_failed = sum(1 for i in range(1, 61) if i % 7 == 0)
    assert (attempt.sent_count, attempt.failed_count, attempt.total_count) == (
        60 - expected_failed,
        expected_failed,
        60,
    )
    assert attempt.retry_wait_count == attempt.pending_count == attempt.sending_count == 0
    assert len(server.messages) == 60 - expected_failed


def test_a_sweep_and_a_skip_move_the_counts_with_the_ledger(server: SmtpServer, owner: User) -> None:
    emails = [f"r{i}@example.com" for i in range(1, 13)]
    mailing, attempt = make_run(owner, emails)
    now = timezone.now()
    # A worker that died holding four deliveries, two of them handed over.
    dead = list(Delivery.objects.filter(attempt=attempt).order_by("pk").values_list("pk", flat=True)[:4])
    Delivery.objects.filter(pk__in=dead).update(state=S.SENDING, lease_owner="dead", lease_until=now - timedelta(1))
    Delivery.objects.filter(pk__in=dead[:2]).update(handed_over=True)
    call_command("ledger_check", "--repair", stdout=StringIO())  # the test wrote the ledger by hand
    assert deliveries_sweep_expired_leases(now=now) == 4
    _assert_counts_agree(attempt.pk, owner)
    attempt.refresh_from_db()
    assert (attempt.unknown_count, attempt.pending_count, attempt.sending_count) == (2, 10, 0)
    Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)
    attempt_deliver(attempt_id=attempt.pk)
    _assert_counts_agree(attempt.pk, owner)
    attempt.refresh_from_db()
    assert attempt.is_final and (attempt.skipped_count, attempt.unknown_count) == (10, 2)
    assert attempts_wake_due_retries(now=timezone.now()) == 0


def test_ledger_check_reports_and_repairs_a_difference(owner: User, settings: Any) -> None:
    fast_settings(settings, port=9)
    _mailing, attempt = make_run(owner, ["a@example.com", "b@example.com"])
    assert ledger_check() == {}
    call_command("ledger_check", stdout=StringIO())
    Attempt.objects.filter(pk=attempt.pk).update(sent_count=5)
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=StringIO())
    assert ledger_check() == {attempt.pk: {"sent_count": (5, 0)}}
    call_command("ledger_check", "--repair", stdout=StringIO())
    assert ledger_check() == {}


def test_ledger_check_checks_and_repairs_the_bounce_counters(owner: User, settings: Any) -> None:
    fast_settings(settings, port=9)
    _mailing, attempt = make_run(owner, ["a@example.com", "b@example.com", "c@example.com"])
    a, b, c = attempt.deliveries.order_by("pk")
    Delivery.objects.filter(pk=a.pk).update(bounce=Delivery.Bounce.HARD)
    Delivery.objects.filter(pk=b.pk).update(bounce=Delivery.Bounce.SOFT)
    Delivery.objects.filter(pk=c.pk).update(bounce=Delivery.Bounce.COMPLAINT)
    # The marks were written by hand, the counters not moved: hard and soft are bounces, complaint a complaint.
    assert ledger_check() == {attempt.pk: {"bounced_count": (0, 2), "complaint_count": (0, 1)}}
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=StringIO())
    out = StringIO()
    call_command("ledger_check", "--repair", stdout=out)
    assert "bounced_count" in out.getvalue()
    attempt.refresh_from_db()
    assert (attempt.bounced_count, attempt.complaint_count) == (2, 1)
    assert ledger_check() == {}
    # A counter above the marks is brought down too.
    Attempt.objects.filter(pk=attempt.pk).update(complaint_count=4)
    assert ledger_check(repair=True) == {attempt.pk: {"complaint_count": (4, 1)}}
    assert ledger_check() == {}
