"""How a run's deliveries are created and claimed, and how often a run tells the page cache about progress.

The figures these choices buy are in bench/send_throughput.py; here is what must stay true of them.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from mailings.delivery import engine as sending
from mailings.delivery.engine import StopReason, _Engine, attempt_deliver
from mailings.delivery.ledger import _CLAIM_SQL, DeliveryLedger, claimable_due, claimable_fresh
from mailings.delivery.runs import attempt_start
from mailings.models import Attempt, Delivery, Recipient
from mailings.tests.sending_support import make_run
from tests.support import SmtpServer
from users.models import User

pytestmark = pytest.mark.django_db

S = Delivery.State


def _ledger(attempt: Attempt) -> DeliveryLedger:
    attempt = Attempt.objects.select_related("mailing").get(pk=attempt.pk)
    return DeliveryLedger(attempt=attempt)


def _claim(ledger: DeliveryLedger, limit: int) -> list[str]:
    now = timezone.now()
    batch = ledger.claim(limit=limit, now=now, lease_until=now + timedelta(minutes=5))
    return [d.email for d in batch]


# --- the snapshot of recipients -----------------------------------------------------------


def test_a_run_copies_each_recipient_once_in_id_order_with_the_field_defaults(owner: User) -> None:
    emails = [f"r{i}@example.com" for i in range(7)]
    mailing, attempt = make_run(owner, emails, names=[f"Имя {i}" for i in range(7)])

    rows = list(Delivery.objects.filter(attempt=attempt).order_by("pk"))
    assert attempt.total_count == 7
    assert [d.email for d in rows] == emails
    assert [d.full_name for d in rows] == [f"Имя {i}" for i in range(7)]
    by_email = {r.email: r.pk for r in Recipient.objects.filter(owner=owner)}
    assert [d.recipient_id for d in rows] == [by_email[e] for e in emails]
    for d in rows:
        assert (d.state, d.tries, d.handed_over, d.lease_owner) == (S.PENDING, 0, False, "")
        assert (d.next_try_at, d.lease_until, d.finished_at, d.smtp_code) == (None, None, None, None)
        assert (d.smtp_reply, d.reason, d.message_id) == ("", "", "")


def test_a_run_for_chosen_recipients_copies_only_those_and_an_empty_mailing_copies_none(owner: User) -> None:
    mailing, first = make_run(owner, ["a@example.com", "b@example.com", "c@example.com"])
    Attempt.objects.filter(pk=first.pk).update(status=Attempt.Status.FAILURE)
    chosen = list(Recipient.objects.filter(owner=owner, email__in=["a@example.com", "c@example.com"]))
    # A recipient of the owner who is not on this mailing is never copied, even when named.
    stranger = Recipient.objects.create(owner=owner, email="stranger@example.com")

    retry = attempt_start(
        mailing=mailing,
        trigger=Attempt.Trigger.RETRY,
        recipient_ids=[r.pk for r in chosen] + [stranger.pk],
        retry_of=first,
    )

    assert retry.total_count == 2
    assert list(Delivery.objects.filter(attempt=retry).values_list("email", flat=True)) == [
        "a@example.com",
        "c@example.com",
    ]
    mailing.recipients.clear()
    empty = attempt_start(mailing=mailing, trigger=Attempt.Trigger.SCHEDULE, scheduled_for=timezone.now())
    assert empty.total_count == 0 and not Delivery.objects.filter(attempt=empty).exists()


# --- claims -------------------------------------------------------------------------------


def _set(attempt: Attempt, email: str, **fields: Any) -> None:
    Delivery.objects.filter(attempt=attempt, email=email).update(**fields)


def _retry_at(attempt: Attempt, email: str, when: Any) -> None:
    _set(attempt, email, state=S.RETRY_WAIT, tries=1, next_try_at=when)


def test_a_claim_takes_due_retries_deferred_ones_and_never_tried_ones_but_never_future_ones(owner: User) -> None:
    emails = [f"r{i}@example.com" for i in range(6)]
    _m, attempt = make_run(owner, emails)
    now = timezone.now()
    _retry_at(attempt, "r0@example.com", now - timedelta(seconds=5))
    _retry_at(attempt, "r1@example.com", now + timedelta(hours=1))
    # Deferred by the breaker or the limits: pending with a time, due once it has passed.
    _set(attempt, "r2@example.com", next_try_at=now - timedelta(seconds=1))
    _set(attempt, "r3@example.com", next_try_at=now + timedelta(hours=1))
    _set(attempt, "r5@example.com", state=S.SENT, finished_at=now)
    ledger = _ledger(attempt)

    assert _claim(ledger, 10) == ["r0@example.com", "r2@example.com", "r4@example.com"]
    claimed = Delivery.objects.filter(attempt=attempt, lease_owner=ledger.owner)
    assert set(claimed.values_list("state", flat=True)) == {S.SENDING}
    assert _claim(_ledger(attempt), 10) == []


def test_a_due_retry_is_claimed_first_however_many_never_tried_deliveries_wait(owner: User) -> None:
    """A recipient promised a retry in a minute is not put behind the rest of a long list."""
    emails = [f"r{i}@example.com" for i in range(30)]
    _m, attempt = make_run(owner, emails)
    now = timezone.now()
    _retry_at(attempt, "r29@example.com", now - timedelta(seconds=1))
    _set(attempt, "r28@example.com", next_try_at=now - timedelta(seconds=2))

    assert _claim(_ledger(attempt), 3) == ["r0@example.com", "r28@example.com", "r29@example.com"]
    assert _claim(_ledger(attempt), 2) == ["r1@example.com", "r2@example.com"]


def test_two_workers_claim_disjoint_batches_until_nothing_is_left(owner: User) -> None:
    _m, attempt = make_run(owner, [f"r{i}@example.com" for i in range(7)])
    first, second = _ledger(attempt), _ledger(attempt)

    a = _claim(first, 3)
    b = _claim(second, 3)
    c = _claim(first, 3)

    assert a == ["r0@example.com", "r1@example.com", "r2@example.com"]
    assert b == ["r3@example.com", "r4@example.com", "r5@example.com"]
    assert c == ["r6@example.com"]
    assert _claim(second, 3) == []


def test_a_claim_loses_rows_another_worker_took_after_they_were_picked(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UPDATE re-checks "due" row by row: ids picked before another worker's claim are not taken twice."""
    _m, attempt = make_run(owner, [f"r{i}@example.com" for i in range(4)])
    slow, fast = _ledger(attempt), _ledger(attempt)
    picked = slow._candidates(limit=2, now=timezone.now())
    calls: list[int] = []
    real = DeliveryLedger._candidates

    def stale_first(self: DeliveryLedger, *, limit: int, now: Any) -> list[int]:
        calls.append(1)
        # The first look returns what was due before the other worker's claim; later looks are fresh.
        return picked if len(calls) == 1 else real(self, limit=limit, now=now)

    assert _claim(fast, 2) == ["r0@example.com", "r1@example.com"]
    monkeypatch.setattr(DeliveryLedger, "_candidates", stale_first)

    assert _claim(slow, 2) == ["r2@example.com", "r3@example.com"]
    assert len(calls) == 2
    assert Delivery.objects.filter(attempt=attempt, lease_owner=fast.owner).count() == 2


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner, which has no statistics to go by")
def test_on_sqlite_a_claim_reads_index_ranges_and_primary_keys_not_the_whole_attempt(owner: User) -> None:
    _m, attempt = make_run(owner)

    def plan(sql: str, params: list[Any]) -> str:
        connection.ensure_connection()
        rows = connection.connection.execute("EXPLAIN QUERY PLAN " + sql.replace("%s", "?"), params).fetchall()
        return " | ".join(str(row[3]) for row in rows)

    def queryset_plan(qs: Any) -> str:
        sql, params = qs.query.sql_with_params()
        return plan(sql, list(params))

    fresh = queryset_plan(claimable_fresh(attempt_id=attempt.pk)[:50])
    assert "COVERING INDEX delivery_claim_idx (attempt_id=? AND state=? AND next_try_at=?)" in fresh
    assert "TEMP B-TREE" not in fresh  # id order comes from the index itself
    for state in (S.RETRY_WAIT, S.PENDING):
        # Every pending delivery has a time after the breaker or a limit deferred the run: still no sort.
        due = queryset_plan(claimable_due(attempt_id=attempt.pk, state=state, now=timezone.now())[:50])
        assert "COVERING INDEX delivery_claim_idx (attempt_id=? AND state=? AND next_try_at<?)" in due
        assert "TEMP B-TREE" not in due
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    # A batch's worth of ids: with a couple the planner takes the primary key whatever the WHERE says.
    ids = list(range(1, 51))
    in_list = "(" + ", ".join(["%s"] * len(ids)) + ")"
    claim = plan(_CLAIM_SQL + in_list, [S.SENDING, "me", now, S.PENDING, now, S.RETRY_WAIT, now, *ids])
    assert "INTEGER PRIMARY KEY" in claim and "delivery_retry_idx" not in claim


# --- progress for the page cache ----------------------------------------------------------


def _count_bumps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    calls: list[float] = []
    real: Callable[..., None] = sending.data_version_bump

    def counting(*, owner_id: int) -> None:
        calls.append(timezone.now().timestamp())
        real(owner_id=owner_id)

    monkeypatch.setattr(sending, "data_version_bump", counting)
    return calls


# Committed for real: data versions are bumped once the write's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_a_run_tells_the_page_cache_about_progress_at_most_once_a_second_and_once_at_the_end(
    server: SmtpServer, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.data_versions import data_version

    _m, attempt = make_run(owner, [f"r{i}@example.com" for i in range(40)])  # 4 batches of 10, 4+ flushes
    monkeypatch.setattr(sending, "BATCH_SECONDS", 0.0)  # claims stay SEND_BATCH_SIZE (next_batch_size)
    flushes: list[int] = []
    real_flush = _Engine._flush

    def counting_flush(self: _Engine, done: list[Delivery]) -> None:
        if done:
            flushes.append(len(done))
        real_flush(self, done)

    monkeypatch.setattr(_Engine, "_flush", counting_flush)
    bumps = _count_bumps(monkeypatch)
    before = data_version(user=owner)

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE

    assert len(flushes) >= 4 and sum(flushes) == 40
    # The first flush and the end of the task run; a run this short has no second in between.
    assert 2 <= len(bumps) <= 2 + int(bumps[-1] - bumps[0])
    assert data_version(user=owner) != before


def test_a_task_that_fails_mid_run_still_tells_the_page_cache(
    server: SmtpServer, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import DatabaseError

    _m, attempt = make_run(owner, [f"r{i}@example.com" for i in range(3)])
    bumps = _count_bumps(monkeypatch)

    def broken(self: DeliveryLedger, **kwargs: Any) -> list[Delivery]:
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(DeliveryLedger, "claim", broken)

    with pytest.raises(DatabaseError):
        attempt_deliver(attempt_id=attempt.pk)
    assert len(bumps) == 1


def test_a_bump_skipped_inside_the_interval_is_paid_once_it_has_passed_or_before_a_pause(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailings.delivery.stopping import Stop

    _m, attempt = make_run(owner)
    engine = _Engine(
        attempt=Attempt.objects.select_related("mailing__message").get(pk=attempt.pk), stop=Stop(), max_seconds=30
    )
    bumps = _count_bumps(monkeypatch)

    engine.progress_bump()  # the first flush of the run
    engine.progress_bump()  # the next flush, within the second: owed, not paid
    assert len(bumps) == 1 and engine.bump_owed
    engine._catch_up([], idling=False)
    assert len(bumps) == 1  # still within the second

    engine.last_bump -= sending.PROGRESS_BUMP_SECONDS  # the second has passed
    engine._catch_up([], idling=False)
    assert len(bumps) == 2 and not engine.bump_owed
    engine._catch_up([], idling=False)
    assert len(bumps) == 2  # nothing owed, nothing paid

    engine.progress_bump()  # owed again
    engine._catch_up([], idling=True)  # about to wait for the rate limit: paid at once
    assert len(bumps) == 3 and not engine.bump_owed


def test_a_field_with_a_per_row_default_cannot_slip_into_the_snapshot(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new Delivery field whose default differs per row must be copied explicitly, not given one value for all."""
    import uuid

    from django.core.exceptions import ImproperlyConfigured

    mailing, first = make_run(owner)
    Attempt.objects.filter(pk=first.pk).update(status=Attempt.Status.SUCCESS)
    monkeypatch.setattr(Delivery._meta.get_field("message_id"), "default", lambda: uuid.uuid4().hex)

    with pytest.raises(ImproperlyConfigured, match="message_id"):
        attempt_start(mailing=mailing, trigger=Attempt.Trigger.SCHEDULE, scheduled_for=timezone.now())
