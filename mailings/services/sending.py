"""The delivery engine (ARCHITECTURE.md, steps 3 and 4, and the failure policy).

A task run (`attempt_deliver`) claims a small batch of an attempt's due deliveries with one
conditional UPDATE (a lease), sends them one message per recipient over a reused connection
with no transaction open, and records the outcomes in bulk. It stops after
SEND_TASK_MAX_SECONDS (or on SIGTERM, after the message in hand) and re-enqueues itself, so
several workers can share one attempt and no task runs for hours.

Before a message's final dot the delivery is marked `handed_over` in the database; a worker
killed after that point leaves a delivery the sweep reports as unknown instead of resending. The
mark is written for up to SEND_HANDOVER_GROUP deliveries of the batch at once (one commit); the ones
the worker then does not send while alive are written back with handed_over cleared.
"""

import logging
import math
import os
import re
import signal
import socket
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType

from django.conf import settings
from django.core.mail.utils import DNS_NAME
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from mailings.cache import data_version_bump, data_version_bump_for_attempts
from mailings.models import Attempt, Delivery, Mailing
from mailings.services.breaker import breaker_close, breaker_gate, breaker_open
from mailings.services.compose import BuildError, MessageComposer
from mailings.services.ratelimit import (
    Reservation,
    batch_size_for_rate,
    ratelimit_refund,
    ratelimit_reserve,
)
from mailings.services.smtp import Outcome, SendResult, SmtpConfig, SmtpSession, SystemicError, sanitize_reply

logger = logging.getLogger(__name__)

State = Delivery.State
NOT_FINAL_STATES = (State.PENDING, State.SENDING, State.RETRY_WAIT)
# Seconds of lease kept in reserve beyond the per-message deadline (recording the batch, clock skew).
LEASE_MARGIN = 15.0
# A task re-checks "enabled / owner active" at least this often within a batch.
RECHECK_SECONDS = 1.0
# Outcomes are written per batch, and at least this often: a worker killed outright leaves at
# most this much of already-answered messages to be reported as unknown by the sweep.
FLUSH_SECONDS = 0.5
HEARTBEAT_SECONDS = 5.0
# The owner's pages show a run's progress at most this much late (cached pages, mailings/cache.py).
PROGRESS_BUMP_SECONDS = 1.0


_TABLE = Delivery._meta.db_table
_HAND_OVER_SQL = (
    f"UPDATE {_TABLE} SET handed_over = %s, message_id = %s WHERE id = %s AND state = %s AND lease_owner = %s"
)
_HAND_OVER_SQL_QMARK = _HAND_OVER_SQL.replace("%s", "?")
# The group mark: one conditional UPDATE for the next deliveries of the batch (ids appended).
_GROUP_MARK_SQL = (
    f"UPDATE {_TABLE} SET handed_over = %s WHERE state = %s AND lease_owner = %s AND lease_until > %s AND id IN "
)
_GROUP_UNMARK_SQL = f"UPDATE {_TABLE} SET handed_over = %s WHERE state = %s AND lease_owner = %s AND id IN "
_GROUP_MARKED_SQL = f"SELECT id FROM {_TABLE} WHERE handed_over = %s AND state = %s AND lease_owner = %s AND id IN "
# The claim: "due now" re-checked per row, for the ids picked by claimable_fresh / claimable_due.
# `state || ''` keeps SQLite's planner (which has no statistics) from walking delivery_retry_idx over
# every pending delivery of the service instead of looking the few ids up by primary key.
_CLAIM_SQL = (
    f"UPDATE {_TABLE} SET state = %s, lease_owner = %s, lease_until = %s "
    "WHERE ((state || '' = %s AND (next_try_at IS NULL OR next_try_at <= %s)) "
    "OR (state || '' = %s AND next_try_at <= %s)) AND id IN "
)
_FLUSH_SQL = (
    f"UPDATE {_TABLE} SET state = %s, tries = %s, next_try_at = %s, lease_until = NULL, lease_owner = '', "
    "handed_over = %s, smtp_code = %s, smtp_reply = %s, reason = %s, message_id = %s, finished_at = %s "
    "WHERE id = %s AND state = %s AND lease_owner = %s"
)


class StopReason:
    FINAL = "final"  # the attempt is already final or gone
    IDLE = "idle"  # nothing due to claim
    BUDGET = "budget"  # time budget used up, work remains: continued by a new task
    STOPPED = "stopped"  # SIGTERM: continued by a new task
    PAUSED = "paused"  # circuit breaker open
    LIMITED = "limited"  # hourly/daily limit reached
    BLOCKED = "blocked"  # mailing disabled, owner blocked or end_at passed: rest skipped


def smtp_config() -> SmtpConfig:
    return SmtpConfig(
        host=settings.EMAIL_HOST,
        port=int(settings.EMAIL_PORT),
        username=settings.EMAIL_HOST_USER or "",
        password=settings.EMAIL_HOST_PASSWORD or "",
        use_tls=bool(settings.EMAIL_USE_TLS),
        use_ssl=bool(settings.EMAIL_USE_SSL),
        timeout=float(settings.EMAIL_TIMEOUT or 30.0),
        local_hostname=str(DNS_NAME),
    )


def claimable_fresh(*, attempt_id: int) -> "QuerySet[Delivery, int]":
    """Ids of the attempt's never-tried deliveries, in id order, straight from delivery_claim_idx.

    The claim reads two narrow index ranges instead of one query with the whole "due" OR, which
    made SQLite walk every delivery of the attempt: a claim costs the same at the end of a
    100,000-recipient run as at its start.
    """
    return (
        Delivery.objects.filter(attempt_id=attempt_id, state=State.PENDING, next_try_at__isnull=True)
        .order_by("next_try_at", "pk")
        .values_list("pk", flat=True)
    )


def claimable_due(*, attempt_id: int, now: datetime) -> "QuerySet[Delivery, int]":
    """Ids of retries whose back-off is over and of deliveries deferred (breaker, limits) until now or earlier."""
    return (
        Delivery.objects.filter(
            attempt_id=attempt_id, state__in=[State.PENDING, State.RETRY_WAIT], next_try_at__lte=now
        )
        .order_by("next_try_at", "pk")
        .values_list("pk", flat=True)
    )


def _lease_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def run_block_reason(*, attempt_id: int, now: datetime) -> str | None:
    """Why the rest of this run must not be sent, or None. One query."""
    row = (
        Attempt.objects.filter(pk=attempt_id)
        .values(
            "status",
            "mailing__is_enabled",
            "mailing__end_at",
            "mailing__owner__is_active",
            "mailing__owner__blocked_at",
        )
        .first()
    )
    if row is None:
        return _("попытка удалена")
    if not row["mailing__is_enabled"]:
        return _("рассылка отключена")
    if not row["mailing__owner__is_active"] or row["mailing__owner__blocked_at"] is not None:
        return _("владелец заблокирован")
    if now >= row["mailing__end_at"]:
        return _("время рассылки истекло")
    return None


def attempt_skip_rest(*, attempt_id: int, reason: str, now: datetime) -> int:
    """Mark every delivery of the run not yet handed to anyone as skipped with the reason."""
    skipped = Delivery.objects.filter(attempt_id=attempt_id, state__in=[State.PENDING, State.RETRY_WAIT]).update(
        state=State.SKIPPED,
        reason=reason[:255],
        finished_at=now,
        next_try_at=None,
        lease_until=None,
        lease_owner="",
    )
    if skipped:
        logger.info("run skipped: attempt=%s deliveries=%s reason=%s", attempt_id, skipped, reason)
    return skipped


def _defer_attempt(*, attempt_id: int, until: datetime, end_at: datetime) -> int:
    """Nobody may send before `until` (breaker or limits): move due deliveries' next_try_at there.

    When `until` is at or past the mailing's end the rest can never be sent: it is skipped at once,
    so the run finishes now instead of staying in progress until end_at.
    """
    if until >= end_at:
        return attempt_skip_rest(attempt_id=attempt_id, reason=_("время рассылки истекло"), now=timezone.now())
    return (
        Delivery.objects.filter(attempt_id=attempt_id, state__in=[State.PENDING, State.RETRY_WAIT])
        .filter(Q(next_try_at__isnull=True) | Q(next_try_at__lt=until))
        .update(next_try_at=until)
    )


class _Stop:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        # SIGTERM arrived and nobody else handles it: the default action is owed once cleanup is done.
        self.default_owed = False

    def is_set(self) -> bool:
        return self.event.is_set()

    def deliver_default(self) -> None:
        """Terminate as SIGTERM's default action would, after the run was re-enqueued or finished."""
        if self.default_owed:
            self.default_owed = False
            os.kill(os.getpid(), signal.SIGTERM)


@contextmanager
def _graceful_sigterm() -> Iterator[_Stop]:
    """Finish the message in hand on SIGTERM, then stop (db_worker's own handler still runs).

    With no other handler the default action is not taken here but owed (`stop.deliver_default()`),
    so that the caller re-enqueues or finishes the run first.
    """
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.signum = signum
        stop.event.set()
        if callable(previous):
            # db_worker's handler: clears its loop flag; exits at once only on a second signal.
            previous(signum, frame)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield stop
    finally:
        # getsignal() gives None for a handler installed outside Python: fall back to the default.
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        if stop.is_set() and previous == signal.SIG_DFL:
            stop.default_owed = True


class _Engine:
    def __init__(self, *, attempt: Attempt, stop: _Stop, max_seconds: float) -> None:
        self.attempt = attempt
        self.mailing = attempt.mailing
        self.stop = stop
        self.max_seconds = max_seconds
        self.owner = _lease_owner()
        self.config = smtp_config()
        self.session = SmtpSession(self.config)
        self.deadline_seconds = float(settings.SEND_MESSAGE_DEADLINE)
        self.composer = MessageComposer(
            from_email=settings.DEFAULT_FROM_EMAIL,
            subject=self.mailing.message.subject,
            body=self.mailing.message.body,
            msgid_domain=str(DNS_NAME),
        )
        self.from_addr = _envelope_sender(settings.DEFAULT_FROM_EMAIL)
        self.probe = False
        self.abandon_reason = ""
        self.connection_failures = 0
        self.started = time.monotonic()
        self.last_check = 0.0
        self.last_heartbeat = 0.0
        self.last_bump = 0.0
        self.sent = 0
        self.attempted = 0
        self.handover_group = max(1, int(getattr(settings, "SEND_HANDOVER_GROUP", 25)))
        # Deliveries marked handed_over in the database whose message has not reached its final dot yet.
        self.marked: set[int] = set()

    # --- bookkeeping ----------------------------------------------------------------------

    def _heartbeat(self, now: datetime) -> None:
        """Tell the scheduler this attempt is being worked on, so it does not wake another task."""
        if time.monotonic() - self.last_heartbeat < HEARTBEAT_SECONDS:
            return
        self.last_heartbeat = time.monotonic()
        Attempt.objects.filter(pk=self.attempt.pk).update(
            wake_at=now + timedelta(seconds=int(settings.SEND_WAKE_INTERVAL))
        )

    def _blocked(self, now: datetime, *, force: bool = False) -> str | None:
        if now >= self.mailing.end_at:
            return _("время рассылки истекло")
        if not force and time.monotonic() - self.last_check < RECHECK_SECONDS:
            return None
        self.last_check = time.monotonic()
        return run_block_reason(attempt_id=self.attempt.pk, now=now)

    def _candidates(self, *, limit: int, now: datetime) -> list[int]:
        """Up to `limit` due delivery ids of the attempt: never-tried ones in id order, then due retries."""
        ids = list(claimable_fresh(attempt_id=self.attempt.pk)[:limit])
        if len(ids) < limit:
            ids += claimable_due(attempt_id=self.attempt.pk, now=now)[: limit - len(ids)]
        return ids

    def _claim(self, *, limit: int, now: datetime, lease_until: datetime) -> list[Delivery]:
        """One conditional UPDATE; the rows carrying our lease_owner afterwards are the ones we won."""
        adapt = connection.ops.adapt_datetimefield_value
        won: list[int] = []
        for _try in range(5):
            candidates = self._candidates(limit=limit, now=now)
            if not candidates:
                return []
            # The due condition is checked again row by row by the UPDATE itself: of two workers
            # that picked the same rows, the second finds them claimed (SQLite serialises the
            # writes; PostgreSQL re-evaluates the WHERE once the winner commits).
            in_list = "(" + ", ".join(["%s"] * len(candidates)) + ")"
            params: list[object] = [State.SENDING, self.owner, adapt(lease_until)]
            params += [State.PENDING, adapt(now), State.RETRY_WAIT, adapt(now), *candidates]
            if self._execute(_CLAIM_SQL + in_list, params):
                won = candidates
                break
            # Lost every row to another worker: try the next ones instead of going idle while work remains.
        if not won:
            return []
        rows = (
            Delivery.objects.filter(pk__in=won, lease_owner=self.owner)
            .only("pk", "email", "full_name", "tries", "state", "handed_over", "next_try_at", "attempt_id")
            .order_by("pk")
        )
        return [d for d in rows if d.state == State.SENDING]

    def _hand_over(self, delivery: Delivery, message_id: str, rest: list[Delivery]) -> bool:
        """Write-ahead before the final dot; False if our lease was swept meanwhile (then do not send).

        A delivery already marked by an earlier group mark goes out with no write. Otherwise the next
        up-to-SEND_HANDOVER_GROUP deliveries of the batch (`rest`, starting with this one) are marked
        with one conditional UPDATE. Marked ones the worker does not send while alive are written back
        with handed_over cleared by `_flush` (their in-memory `handed_over` stays False) or `_unmark`.
        """
        if timezone.now() >= self.mailing.end_at:
            # The envelope exchange may have crossed end_at: nothing goes out after it.
            self.abandon_reason = _("время рассылки истекло")
            return False
        if delivery.pk in self.marked:
            self.marked.discard(delivery.pk)
            return True
        if self.handover_group == 1:
            return self._hand_over_one(delivery, message_id)
        ids = [r.pk for r in rest[: self.handover_group]]
        if not ids or ids[0] != delivery.pk:
            ids = [delivery.pk, *(pk for pk in ids if pk != delivery.pk)][: self.handover_group]
        try:
            marked = self._mark_group(ids)
        except (DatabaseError, sqlite3.Error) as exc:
            # "database is locked" mid-DATA: without the write-ahead the message must not go out.
            logger.warning("hand-over not recorded, message abandoned: delivery=%s error=%s", delivery.pk, exc)
            self.abandon_reason = _("не удалось записать передачу письма")
            return False
        if delivery.pk not in marked:
            return False
        marked.discard(delivery.pk)
        self.marked |= marked
        return True

    def _execute(self, sql: str, params: list[object]) -> int:
        """Raw SQL with %s placeholders; returns the row count (the DB-API connection on SQLite: cheaper)."""
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            return int(connection.connection.execute(sql.replace("%s", "?"), params).rowcount)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount)

    def _mark_group(self, ids: list[int]) -> set[int]:
        """One conditional UPDATE marking `ids` handed over; returns the ids marked (those still ours)."""
        in_list = "(" + ", ".join(["%s"] * len(ids)) + ")"
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        params: list[object] = [True, State.SENDING, self.owner, now, *ids]
        count = self._execute(_GROUP_MARK_SQL + in_list, params)
        if count == len(ids):
            return set(ids)
        if count == 0:
            return set()
        # Some leases were lost meanwhile (rare): find out which rows carry our mark.
        with connection.cursor() as cursor:
            cursor.execute(_GROUP_MARKED_SQL + in_list, [True, State.SENDING, self.owner, *ids])
            return {int(row[0]) for row in cursor.fetchall()}

    def _unmark(self, ids: list[int]) -> None:
        """Clear the mark of deliveries that were marked but will not be sent by this run (best effort)."""
        ids = [pk for pk in ids if pk in self.marked]
        self.marked.difference_update(ids)
        if not ids:
            return
        in_list = "(" + ", ".join(["%s"] * len(ids)) + ")"
        try:
            self._execute(_GROUP_UNMARK_SQL + in_list, [False, State.SENDING, self.owner, *ids])
        except (DatabaseError, sqlite3.Error) as exc:
            # Left marked: the sweep reports them unknown, never resent (as after a crash).
            logger.warning("hand-over marks not cleared: deliveries=%s error=%s", ids, exc)

    def _hand_over_one(self, delivery: Delivery, message_id: str) -> bool:
        """SEND_HANDOVER_GROUP=1: the per-message write-ahead (with the Message-ID)."""
        # Raw SQL: this runs once per message and the ORM's query compilation would cost more
        # than the SMTP exchange itself on a fast server. On SQLite even Django's cursor wrapper
        # (placeholder rewriting per call) is a measurable share, so the DB-API connection is used.
        params = [True, message_id, delivery.pk, State.SENDING, self.owner]
        try:
            if connection.vendor == "sqlite":
                connection.ensure_connection()
                return connection.connection.execute(_HAND_OVER_SQL_QMARK, params).rowcount == 1
            with connection.cursor() as cursor:
                cursor.execute(_HAND_OVER_SQL, params)
                return cursor.rowcount == 1
        except (DatabaseError, sqlite3.Error) as exc:
            # "database is locked" mid-DATA: without the write-ahead the message must not go out.
            logger.warning("hand-over not recorded, message abandoned: delivery=%s error=%s", delivery.pk, exc)
            self.abandon_reason = _("не удалось записать передачу письма")
            return False

    def _flush(self, done: list[Delivery]) -> None:
        """Write a batch's outcomes, only for rows we still hold (a swept lease is never overwritten)."""
        if not done:
            return
        adapt = connection.ops.adapt_datetimefield_value
        rows = [
            [
                d.state,
                d.tries,
                adapt(d.next_try_at),
                d.handed_over,
                d.smtp_code,
                d.smtp_reply,
                d.reason,
                d.message_id,
                adapt(d.finished_at),
                d.pk,
                State.SENDING,
                self.owner,
            ]
            for d in done
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(_FLUSH_SQL, rows)
        # Marked but released, skipped or failed before their dot: the flush wrote handed_over = False.
        self.marked.difference_update(d.pk for d in done)
        self.progress_bump()
        done.clear()

    def progress_bump(self, *, force: bool = False) -> None:
        """New data version for the owner's pages: at most every PROGRESS_BUMP_SECONDS while sending.

        On the database cache a bump is two write transactions; once per flush it cost more than the
        flush. `attempt_deliver` bumps once more (forced) when the task run ends, however it ends.
        """
        if not force and time.monotonic() - self.last_bump < PROGRESS_BUMP_SECONDS:
            return
        self.last_bump = time.monotonic()
        data_version_bump(owner_id=self.mailing.owner_id)

    @staticmethod
    def _release(d: Delivery, *, until: datetime | None) -> Delivery:
        d.state = State.PENDING
        d.next_try_at = until
        d.lease_until = None
        d.lease_owner = ""
        d.handed_over = False
        return d

    def _finish(self, d: Delivery, state: str, *, now: datetime, result: SendResult | None = None) -> Delivery:
        d.state = state
        d.lease_until = None
        d.lease_owner = ""
        d.next_try_at = None
        d.finished_at = now if state in Delivery.FINAL_STATES else None
        if result is not None:
            d.smtp_code = result.code
            d.smtp_reply = result.reply
            d.reason = result.reason[:255]
        return d

    def _apply(self, d: Delivery, result: SendResult, *, now: datetime) -> Delivery:
        if result.outcome == Outcome.SENT:
            d.handed_over = True
            return self._finish(d, State.SENT, now=now, result=result)
        if result.outcome == Outcome.FAILED:
            d.handed_over = False
            return self._finish(d, State.FAILED, now=now, result=result)
        if result.outcome == Outcome.UNKNOWN:
            d.handed_over = True
            return self._finish(d, State.UNKNOWN, now=now, result=result)
        # Transient: back-off until end_at or the maximum age, then failed.
        d.handed_over = False
        backoff = list(settings.SEND_RETRY_BACKOFF) or [60]
        next_try = now + timedelta(seconds=int(backoff[min(max(d.tries, 1) - 1, len(backoff) - 1)]))
        max_age_end = self.attempt.started_at + timedelta(seconds=int(settings.SEND_RETRY_MAX_AGE))
        if next_try >= self.mailing.end_at or next_try > max_age_end:
            self._finish(d, State.FAILED, now=now, result=result)
            d.reason = (_("повторы исчерпаны: %(reason)s") % {"reason": result.reason})[:255]
            return d
        self._finish(d, State.RETRY_WAIT, now=now, result=result)
        d.next_try_at = next_try
        return d

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> str:
        Mailing.objects.filter(pk=self.mailing.pk, status=Mailing.Status.CREATED).update(status=Mailing.Status.RUNNING)
        batch_size = batch_size_for_rate(max(1, int(settings.SEND_BATCH_SIZE)))
        while True:
            if self.stop.is_set():
                return StopReason.STOPPED
            if time.monotonic() - self.started >= self.max_seconds:
                return StopReason.BUDGET
            now = timezone.now()
            reason = self._blocked(now, force=True)
            if reason:
                attempt_skip_rest(attempt_id=self.attempt.pk, reason=reason, now=now)
                return StopReason.BLOCKED
            self._heartbeat(now)
            if not self.session.is_open:
                gate = breaker_gate(account=self.config.account, now=now, probe_seconds=self.deadline_seconds)
                if not gate.allowed:
                    assert gate.retry_at is not None
                    _defer_attempt(attempt_id=self.attempt.pk, until=gate.retry_at, end_at=self.mailing.end_at)
                    return StopReason.PAUSED
                self.probe = self.probe or gate.probe
            reservation = ratelimit_reserve(account=self.config.account, want=batch_size, now=now)
            if reservation.granted <= 0:
                assert reservation.retry_at is not None
                _defer_attempt(attempt_id=self.attempt.pk, until=reservation.retry_at, end_at=self.mailing.end_at)
                logger.info(
                    "sending limit reached: attempt=%s resumes at %s", self.attempt.pk, reservation.retry_at.isoformat()
                )
                return StopReason.LIMITED
            pacing = max(0.0, (reservation.start - now).total_seconds()) + reservation.granted * reservation.interval
            lease_until = now + timedelta(seconds=pacing + self.deadline_seconds + LEASE_MARGIN)
            batch = self._claim(limit=reservation.granted, now=now, lease_until=lease_until)
            unclaimed = reservation.granted - len(batch)
            ratelimit_refund(account=self.config.account, reservation=reservation, unused=unclaimed)
            if not batch:
                return StopReason.IDLE
            verdict = self._send_batch(batch, reservation=reservation, lease_until=lease_until)
            if verdict is not None:
                return verdict

    def _send_batch(self, batch: list[Delivery], *, reservation: Reservation, lease_until: datetime) -> str | None:
        """Send a claimed batch; returns a StopReason to end the task run, or None to claim more."""
        done: list[Delivery] = []
        attempted_before = self.attempted
        last_flush = time.monotonic()
        try:
            for i, d in enumerate(batch):
                rest = batch[i:]
                if i and self.stop.is_set():
                    done.extend(self._release(r, until=None) for r in rest)
                    return StopReason.STOPPED
                waited = False
                if reservation.interval:
                    # Pace first, then check: the mailing may end or be stopped during the wait.
                    wait = (reservation.start - timezone.now()).total_seconds() + i * reservation.interval
                    if wait > 0:
                        waited = True
                        if self.stop.event.wait(wait):
                            done.extend(self._release(r, until=None) for r in rest)
                            return StopReason.STOPPED
                now = timezone.now()
                reason = self._blocked(now, force=waited)
                if reason:
                    done.extend(self._finish(r, State.SKIPPED, now=now) for r in rest)
                    for r in rest:
                        r.reason = reason
                    self._flush(done)
                    attempt_skip_rest(attempt_id=self.attempt.pk, reason=reason, now=now)
                    return StopReason.BLOCKED
                if (lease_until - now).total_seconds() < self.deadline_seconds + LEASE_MARGIN / 2:
                    # Not enough lease left to finish one more message within its deadline.
                    done.extend(self._release(r, until=None) for r in rest)
                    return None
                verdict = self._send_one(d, rest=rest, done=done)
                if verdict is not None:
                    return verdict
                if done and time.monotonic() - last_flush >= FLUSH_SECONDS:
                    self._flush(done)
                    last_flush = time.monotonic()
        finally:
            self._flush(done)
            if self.marked:
                # Left the batch some other way (an unexpected error): those were never sent.
                self._unmark(list(self.marked))
            # Reserved sends that never reached the server (released, skipped, not buildable) go back.
            unused = len(batch) - (self.attempted - attempted_before)
            if unused:
                ratelimit_refund(account=self.config.account, reservation=reservation, unused=unused)
        return None

    def _pause(self, *, reason: str, rest: list[Delivery], done: list[Delivery]) -> str:
        """Systemic trouble: open the breaker, put the deliveries in hand back to wait for it."""
        self.session.close()
        now = timezone.now()
        until = breaker_open(account=self.config.account, reason=reason, now=now)
        self.probe = False
        done.extend(self._release(r, until=until) for r in rest)
        self._flush(done)
        _defer_attempt(attempt_id=self.attempt.pk, until=until, end_at=self.mailing.end_at)
        return StopReason.PAUSED

    def _send_one(self, d: Delivery, *, rest: list[Delivery], done: list[Delivery]) -> str | None:
        now = timezone.now()
        try:
            to_addr, data, message_id = self.composer.build(email=d.email, full_name=d.full_name)
        except BuildError as exc:
            self._finish(d, State.FAILED, now=now)
            d.reason = (_("письмо не собрано (build): %(error)s") % {"error": exc})[:255]
            done.append(d)
            return None
        deadline = time.monotonic() + self.deadline_seconds
        if not self.session.is_open:
            if not self.probe:
                # Reconnecting mid-batch (after a 421 or a drop): another worker may have opened the breaker.
                gate = breaker_gate(account=self.config.account, now=now, probe_seconds=self.deadline_seconds)
                if not gate.allowed:
                    assert gate.retry_at is not None
                    done.extend(self._release(r, until=gate.retry_at) for r in rest)
                    self._flush(done)
                    _defer_attempt(attempt_id=self.attempt.pk, until=gate.retry_at, end_at=self.mailing.end_at)
                    return StopReason.PAUSED
                self.probe = gate.probe
            try:
                self.session.open(deadline=deadline)
            except SystemicError as exc:
                self.connection_failures += 1
                reason = sanitize_reply(exc.reason, limit=200)
                logger.warning(
                    "smtp connection failed: account=%s reason=%s failures=%s",
                    self.config.account,
                    reason,
                    self.connection_failures,
                )
                threshold = max(1, int(settings.SEND_BREAKER_THRESHOLD))
                if exc.immediate or self.probe or self.connection_failures >= threshold:
                    return self._pause(reason=reason, rest=rest, done=done)
                # Not this recipient's fault: it waits for the next connection, nobody is marked failed.
                done.append(self._release(d, until=None))
                return None
        d.tries += 1
        self.attempted += 1
        result = self.session.send(
            from_addr=self.from_addr,
            to_addr=to_addr,
            data=data,
            deadline=deadline,
            before_dot=lambda: self._hand_over(d, message_id, rest),
        )
        d.message_id = message_id
        if result.outcome == Outcome.ABANDONED:
            d.tries -= 1
            self.attempted -= 1
            if self.abandon_reason:
                # Still ours and never sent: back to pending (skipped at the next check if the run ended).
                logger.warning(
                    "message abandoned before the final dot: delivery=%s reason=%s", d.pk, self.abandon_reason
                )
                self.abandon_reason = ""
                done.append(self._release(d, until=None))
            else:
                logger.warning("lease lost before the final dot: delivery=%s", d.pk)
            return None
        if result.outcome == Outcome.SYSTEMIC:
            d.tries -= 1
            self.attempted -= 1
            logger.warning(
                "smtp systemic refusal: account=%s code=%s reply=%s", self.config.account, result.code, result.reply
            )
            return self._pause(reason=f"{result.reason}: {result.reply}", rest=rest, done=done)
        self.connection_failures = self.connection_failures + 1 if result.connection_failure else 0
        if self.probe:
            self.probe = False
            breaker_close(account=self.config.account, now=timezone.now())
        done.append(self._apply(d, result, now=timezone.now()))
        if result.outcome == Outcome.SENT:
            self.sent += 1
        if self.connection_failures >= max(1, int(settings.SEND_BREAKER_THRESHOLD)):
            return self._pause(reason=_("несколько разрывов соединения подряд"), rest=rest[1:], done=done)
        return None


def _envelope_sender(from_email: str) -> str:
    """MAIL FROM address of DEFAULT_FROM_EMAIL; written into the command as is, so validated here."""
    from email.utils import parseaddr

    from mailings.services.compose import smtp_address

    try:
        return smtp_address(parseaddr(from_email)[1] or from_email)
    except BuildError:
        # A broken setting must not inject SMTP commands; the server will refuse the sender
        # (systemic: the breaker opens and the owner sees why).
        return "".join(c for c in from_email if c.isprintable() and c not in "<>\r\n ")


def attempt_deliver(*, attempt_id: int, max_seconds: float | None = None) -> str:
    """One bounded task run over an attempt's due deliveries; returns why it stopped (StopReason).

    Re-enqueues itself when it stopped with work remaining (time budget, SIGTERM), and finishes
    the attempt when every delivery is final. Safe to run in several workers at once.
    """
    attempt = Attempt.objects.select_related("mailing__message").filter(pk=attempt_id).first()
    if attempt is None or attempt.is_final:
        return StopReason.FINAL
    budget = float(settings.SEND_TASK_MAX_SECONDS if max_seconds is None else max_seconds)
    stop: _Stop | None = None
    try:
        with _graceful_sigterm() as stop:
            engine = _Engine(attempt=attempt, stop=stop, max_seconds=budget)
            try:
                verdict = engine.run()
            except Exception:
                # Leases of the batch in hand expire and the sweep recovers them; say what happened.
                logger.exception("delivery task failed: attempt=%s", attempt_id)
                raise
            finally:
                engine.session.close()
                # Claims, skips, deferrals and the last outcomes of this run change what its pages show.
                engine.progress_bump(force=True)
        logger.info("delivery task: attempt=%s sent=%s stop=%s", attempt_id, engine.sent, verdict)
        if verdict in (StopReason.BUDGET, StopReason.STOPPED):
            from mailings.tasks import enqueue_attempt_delivery

            enqueue_attempt_delivery(attempt_id=attempt_id, count=1)
        elif verdict in (StopReason.PAUSED, StopReason.LIMITED, StopReason.IDLE):
            # Let the scheduler wake it as soon as deliveries are due again.
            Attempt.objects.filter(pk=attempt_id).update(wake_at=None)
        attempt_finish_if_done(attempt_id=attempt_id)
    finally:
        # A SIGTERM with the default action terminates only now: the run is re-enqueued or finished.
        if stop is not None:
            stop.deliver_default()
    return verdict


# --- finishing and reporting ----------------------------------------------------------------

# Per-message parts of a reply (queue ids) would make every line of the summary unique.
_QUEUE_ID = re.compile(r"(?i)(:?\s*queued(\s+as\s+\S+)?|\s+id=\S+|\s+<[^>]*>|\s*\(\S*\)$)")


def _summary_key(code: int | None, reply: str, reason: str, state: str) -> str:
    if reply:
        return _QUEUE_ID.sub("", reply).strip()[:120] or reply[:120]
    label = str(State(state).label) if state in State.values else state
    return f"{label}: {reason}"[:120] if reason else label


def attempt_server_summary(*, attempt_id: int, limit: int = 8) -> str:
    """The server's real replies, grouped: `250 2.0.0 Ok ×98; 550 5.1.1 User unknown ×2`."""
    counter: Counter[str] = Counter()
    rows = (
        Delivery.objects.filter(attempt_id=attempt_id)
        .values_list("smtp_code", "smtp_reply", "reason", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for code, reply, reason, state, n in rows:
        counter[_summary_key(code, reply, reason, state)] += n
    parts = [f"{key} ×{n}" for key, n in counter.most_common(limit)]
    if len(counter) > limit:
        parts.append(_("ещё вариантов: %(n)s") % {"n": len(counter) - limit})
    return "; ".join(parts)


def attempt_finish_if_done(*, attempt_id: int) -> bool:
    """When every delivery is final, set the attempt's status, counts and server-response summary.

    Status: Успешно when every delivery was sent (and there was at least one); otherwise
    Не успешно (any failed, unknown or skipped recipient). Returns True if this call finished it.
    """
    if Delivery.objects.filter(attempt_id=attempt_id, state__in=NOT_FINAL_STATES).exists():
        return False
    counts = dict(
        Delivery.objects.filter(attempt_id=attempt_id).values_list("state").annotate(n=Count("pk")).order_by()
    )
    total = sum(counts.values())
    sent = counts.get(State.SENT, 0)
    status = Attempt.Status.SUCCESS if total and sent == total else Attempt.Status.FAILURE
    summary = attempt_server_summary(attempt_id=attempt_id)
    now = timezone.now()
    won = Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.IN_PROGRESS).update(
        status=status,
        finished_at=now,
        total_count=total,
        sent_count=sent,
        failed_count=counts.get(State.FAILED, 0),
        unknown_count=counts.get(State.UNKNOWN, 0),
        skipped_count=counts.get(State.SKIPPED, 0),
        server_response=summary,
        wake_at=None,
    )
    if won:
        data_version_bump_for_attempts(attempt_ids=[attempt_id])
        logger.info(
            "run finished: attempt=%s status=%s total=%s sent=%s failed=%s unknown=%s skipped=%s summary=%s",
            attempt_id,
            status,
            total,
            sent,
            counts.get(State.FAILED, 0),
            counts.get(State.UNKNOWN, 0),
            counts.get(State.SKIPPED, 0),
            summary,
        )
    return bool(won)


# --- called by the scheduler every second ---------------------------------------------------


def deliveries_sweep_expired_leases(*, now: datetime) -> int:
    """Recover the leases of killed workers; returns how many deliveries were recovered.

    Never handed to the server → pending (sent again); handed over (final dot may have gone out)
    → unknown, never resent. Then re-enqueue delivery for the affected attempts.
    """
    expired = Delivery.objects.filter(state=State.SENDING, lease_until__lt=now)
    attempt_ids = sorted(set(expired.values_list("attempt_id", flat=True)))
    if not attempt_ids:
        return 0
    back = expired.filter(handed_over=False).update(
        state=State.PENDING, lease_until=None, lease_owner="", next_try_at=None
    )
    doubtful = Delivery.objects.filter(state=State.SENDING, lease_until__lt=now, handed_over=True).update(
        state=State.UNKNOWN,
        lease_until=None,
        lease_owner="",
        finished_at=now,
        reason=_("обработчик остановлен после передачи письма серверу: возможна доставка"),
    )
    data_version_bump_for_attempts(attempt_ids=attempt_ids)
    from mailings.tasks import enqueue_attempt_delivery

    for attempt_id in attempt_ids:
        if not attempt_finish_if_done(attempt_id=attempt_id):
            enqueue_attempt_delivery(attempt_id=attempt_id, count=1)
    logger.warning(
        "expired leases swept: pending=%s unknown=%s attempts=%s", back, doubtful, ",".join(map(str, attempt_ids))
    )
    return back + doubtful


def attempts_finish_stale(*, now: datetime) -> int:
    """Finish in-progress attempts whose every delivery is final; returns how many were finished.

    Normally the task that wrote the last outcome finishes its attempt; this catches the runs whose
    task died after that write (killed worker, SIGTERM, a database error while finishing) or whose
    enqueue was lost, which nothing else would ever look at again.
    """
    open_deliveries = Delivery.objects.filter(attempt_id=OuterRef("pk"), state__in=NOT_FINAL_STATES)
    stale = list(
        Attempt.objects.filter(status=Attempt.Status.IN_PROGRESS, started_at__lte=now)
        .filter(~Exists(open_deliveries))
        .values_list("pk", flat=True)
    )
    finished = sum(1 for attempt_id in stale if attempt_finish_if_done(attempt_id=attempt_id))
    if finished:
        logger.warning("finished %s attempt(s) left in progress with every delivery final", finished)
    return finished


def attempts_wake_due_retries(*, now: datetime) -> int:
    """Enqueue delivery for in-progress attempts with deliveries due now; returns how many were woken.

    An attempt is woken at most once per SEND_WAKE_INTERVAL: its `wake_at` is advanced by a
    conditional UPDATE and only the winner enqueues. Working tasks keep `wake_at` in the future.
    """
    due = Delivery.objects.filter(attempt_id=OuterRef("pk")).filter(
        Q(state=State.PENDING, next_try_at__isnull=True)
        | Q(state__in=[State.PENDING, State.RETRY_WAIT], next_try_at__lte=now)
    )
    wakeable = Q(wake_at__isnull=True) | Q(wake_at__lte=now)
    candidates = list(
        Attempt.objects.filter(wakeable, status=Attempt.Status.IN_PROGRESS)
        .filter(Exists(due))
        .values_list("pk", flat=True)
    )
    from mailings.tasks import enqueue_attempt_delivery

    woken = 0
    interval = timedelta(seconds=int(settings.SEND_WAKE_INTERVAL))
    for attempt_id in candidates:
        if Attempt.objects.filter(wakeable, pk=attempt_id).update(wake_at=now + interval):
            enqueue_attempt_delivery(attempt_id=attempt_id, count=1)
            woken += 1
    if woken:
        logger.info("woke %s attempt(s) with due deliveries", woken)
    return woken


# --- what the mailing page shows ------------------------------------------------------------


@dataclass(frozen=True)
class SendingStatus:
    in_progress: bool
    paused: bool
    paused_reason: str
    next_probe_at: datetime | None
    remaining: int
    expected_finish_at: datetime | None


def mailing_sending_status(*, mailing: Mailing, now: datetime | None = None) -> SendingStatus:
    """Breaker pause and expected finish (under the sending limits) for a mailing's runs in progress."""
    from mailings.services.breaker import account_state_peek
    from mailings.services.ratelimit import ratelimit_expected_finish

    now = now or timezone.now()
    remaining = Delivery.objects.filter(
        attempt__mailing=mailing, attempt__status=Attempt.Status.IN_PROGRESS, state__in=NOT_FINAL_STATES
    ).count()
    if not remaining:
        return SendingStatus(False, False, "", None, 0, None)
    account = smtp_config().account
    state = account_state_peek(account=account)
    paused = state.breaker_open_until is not None
    expected = ratelimit_expected_finish(account=account, remaining=remaining, now=now)
    if paused and expected is not None and state.breaker_open_until and state.breaker_open_until > now:
        expected = expected + (state.breaker_open_until - now)
    return SendingStatus(
        in_progress=True,
        paused=paused,
        paused_reason=state.breaker_reason,
        next_probe_at=state.breaker_open_until,
        remaining=remaining,
        expected_finish_at=expected,
    )


def tasks_for(*, total: int) -> int:
    """How many delivery tasks to enqueue for a new run of `total` recipients."""
    per_attempt = max(1, int(settings.SEND_TASKS_PER_ATTEMPT))
    return max(1, min(per_attempt, math.ceil(total / max(1, int(settings.SEND_BATCH_SIZE)))))
