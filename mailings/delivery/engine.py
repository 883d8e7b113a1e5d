"""The delivery engine (docs/architecture.md, step 3 and the failure policy; docs/delivery-engine.md).

A task run (`attempt_deliver`) claims a small batch of an attempt's due deliveries with one
conditional UPDATE (a lease), sends them one message per recipient over a reused connection
with no transaction open, and records the outcomes in bulk. It stops after
SEND_TASK_MAX_SECONDS (or on SIGTERM, after the message in hand) and re-enqueues itself, so
several workers can share one attempt and no task runs for hours.

Before a message's final dot the delivery is marked `handed_over` in the database; a worker
killed after that point leaves a delivery the sweep reports as unknown instead of resending. The
mark is written for up to SEND_HANDOVER_GROUP deliveries of the batch at once (one commit); the ones
the worker then does not send while alive are written back with handed_over cleared.

Around the engine: the rows of a task run are claimed, marked and written back by
`DeliveryLedger` (ledger.py), SIGTERM is caught by stopping.py, a run whose deliveries are all
final is finished by run_finish.py, and the scheduler's sweep and wake are in recovery.py.
"""

import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from core.data_versions import data_version_bump
from mailings.delivery.accounts import mailing_sender, sender_pause, service_smtp_config
from mailings.delivery.breaker import breaker_close, breaker_gate, breaker_open
from mailings.delivery.compose import BuildError, composer_for_mailing, needs_smtputf8, smtp_address
from mailings.delivery.counts import attempt_counts_apply
from mailings.delivery.finish_report import deliveries_failed_emit
from mailings.delivery.ledger import DeliveryLedger
from mailings.delivery.ratelimit import (
    Reservation,
    batch_size_for_rate,
    ratelimit_refund,
    ratelimit_reserve,
)
from mailings.delivery.reasons import SYSTEMIC_CODES, Reason, reason, suppression_reason_code
from mailings.delivery.run_finish import attempt_finish_if_done
from mailings.delivery.smtp import Outcome, SmtpSession, SystemicError
from mailings.delivery.stopping import Stop
from mailings.delivery.windows import window_for_mailing
from mailings.models import Attempt, Delivery, send_block
from suppressions.links import unsubscribe_links
from suppressions.services import suppressed_sources

logger = logging.getLogger(__name__)

State = Delivery.State
# Called every few seconds while a task run works on an attempt (tasks.attempt_keep_awake).
KeepAwake = Callable[..., None]
# Seconds of lease kept in reserve beyond the per-message deadline (recording the batch, clock skew).
LEASE_MARGIN = 15.0
# A task re-checks "enabled / owner active" at least this often within a batch.
RECHECK_SECONDS = 1.0
# Outcomes are written per batch, and at least this often: a worker killed outright leaves at
# most this much of already-answered messages to be reported as unknown by the sweep.
FLUSH_SECONDS = 0.5
HEARTBEAT_SECONDS = 5.0
# The owner's pages show a run's progress at most this much late (cached pages, core/data_versions.py).
PROGRESS_BUMP_SECONDS = 1.0
# A task run's first claim; a fast server gets bigger ones (`next_batch_size`), lasting about BATCH_SECONDS each.
BATCH_SIZE_FIRST = 50
BATCH_SECONDS = 0.5
# A run whose SMTP account may not send (disabled by a manager) waits and looks again this often.
SENDER_PAUSE_SECONDS = 60


def next_batch_size(*, most: int, sent: int, seconds: float, paced: bool) -> int:
    """The next claim's size, after a batch of `sent` deliveries took `seconds`: about BATCH_SECONDS' worth.

    A claim, its commit and the outcomes' flush cost about as much as a few messages each: at a few thousand
    messages a second, claims of 50 were a fifth of a worker's time. So a claim is sized to last about BATCH_SECONDS
    at the speed just seen, between BATCH_SIZE_FIRST and `most` (SEND_BATCH_SIZE): a slow server keeps small
    claims, and what is decided per claim (an account paused by a manager, the breaker, the limits) still takes
    effect within about a second. A paced batch (a per-second limit) keeps `most`: the limit already sized it.
    """
    first = min(most, BATCH_SIZE_FIRST)
    if paced or (sent > 0 and seconds <= 0):
        return most
    if sent <= 0:
        return first
    return max(first, min(most, int(sent / seconds * BATCH_SECONDS)))


class StopReason:
    FINAL = "final"  # the attempt is already final or gone
    IDLE = "idle"  # nothing due to claim
    BUDGET = "budget"  # time budget used up, work remains: continued by a new task
    STOPPED = "stopped"  # SIGTERM: continued by a new task
    PAUSED = "paused"  # circuit breaker open
    LIMITED = "limited"  # hourly/daily limit reached
    BLOCKED = "blocked"  # mailing disabled, owner blocked or end_at passed: rest skipped
    WINDOW = "window"  # outside the mailing's send window: deferred to its next opening (windows.py)


# The service account's connection (EMAIL_*); a mailing's own account: accounts.mailing_sender.
smtp_config = service_smtp_config


def run_block_reason(*, attempt_id: int, now: datetime) -> Reason | None:
    """Why the rest of this run must not be sent, or None (the rule: `mailings.models.send_block`). One query."""
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
        return reason("attempt_deleted")
    return send_block(
        is_enabled=row["mailing__is_enabled"],
        owner_is_active=row["mailing__owner__is_active"],
        owner_blocked_at=row["mailing__owner__blocked_at"],
        end_at=row["mailing__end_at"],
        now=now,
    )


def attempt_skip_rest(*, attempt_id: int, why: Reason, now: datetime) -> int:
    """Mark every delivery of the run not yet handed to anyone as skipped with the reason; returns how many ended.

    When the window closed while the mail server was unusable, the deliveries that waited for it end failed
    with the server's real trouble (their reason, set by `_defer_attempt`) rather than skipped for lack of
    time: the owner sees why nothing went out. Their tries are not counted (the breaker's policy).
    """
    with transaction.atomic():
        failed = 0
        if why.code == "window_closed":
            failed = Delivery.objects.filter(
                attempt_id=attempt_id, state=State.PENDING, reason__in=sorted(SYSTEMIC_CODES)
            ).update(state=State.FAILED, finished_at=now, next_try_at=None, lease_until=None, lease_owner="")
            if failed:
                logger.info("run ended with the server unusable: attempt=%s deliveries=%s", attempt_id, failed)
        moves: dict[str, int] = {State.PENDING: -failed, State.FAILED: failed}
        for source in (State.PENDING, State.RETRY_WAIT):
            # One UPDATE per source state: its row count is the move for the attempt's counters.
            n = Delivery.objects.filter(attempt_id=attempt_id, state=source).update(
                state=State.SKIPPED,
                reason=why.code,
                reason_params=why.stored_params(),
                finished_at=now,
                next_try_at=None,
                lease_until=None,
                lease_owner="",
            )
            moves[source] = moves.get(source, 0) - n
            moves[State.SKIPPED] = moves.get(State.SKIPPED, 0) + n
        attempt_counts_apply(attempt_id=attempt_id, deltas=moves)
    skipped = moves[State.SKIPPED]
    if skipped:
        logger.info("run skipped: attempt=%s deliveries=%s reason=%s", attempt_id, skipped, why.code)
    return failed + skipped


def _defer_attempt(*, attempt_id: int, until: datetime, end_at: datetime, cause: Reason | None = None) -> int:
    """Nobody may send before `until` (breaker or limits): move due deliveries' next_try_at there.

    `cause` (the breaker's: the server's trouble) is written on the waiting deliveries that have no verdict of
    their own yet, so the attempt's page and its summary say why they wait. When `until` is at or past the
    mailing's end the rest can never be sent: the run ends at once instead of staying in progress until end_at.
    """
    if cause is not None:
        Delivery.objects.filter(attempt_id=attempt_id, state=State.PENDING).update(
            reason=cause.code, reason_params=cause.stored_params()
        )
    if until >= end_at:
        return attempt_skip_rest(attempt_id=attempt_id, why=reason("window_closed"), now=timezone.now())
    return (
        Delivery.objects.filter(attempt_id=attempt_id, state__in=[State.PENDING, State.RETRY_WAIT])
        .filter(Q(next_try_at__isnull=True) | Q(next_try_at__lt=until))
        .update(next_try_at=until)
    )


class _Engine:
    def __init__(
        self, *, attempt: Attempt, stop: Stop, max_seconds: float, keep_awake: KeepAwake | None = None
    ) -> None:
        self.attempt = attempt
        self.keep_awake = keep_awake
        self.mailing = attempt.mailing
        self.stop = stop
        self.max_seconds = max_seconds
        self.ledger = DeliveryLedger(attempt=attempt)
        # The mailing's own account or the service account: connection, From, limits, breaker key.
        self.sender = mailing_sender(smtp_account_id=self.mailing.smtp_account_id)
        self.config = self.sender.config
        self.session = SmtpSession(self.config)
        self.deadline_seconds = float(settings.SEND_MESSAGE_DEADLINE)
        self.composer = composer_for_mailing(
            mailing=self.mailing, from_email=self.sender.from_email, reply_to=self.sender.reply_to
        )
        self.from_addr = _envelope_sender(self.sender.from_email)
        self.probe = False
        # The send window (windows.py) and when the one open now closes: no message leaves at or after it.
        self.window = window_for_mailing(self.mailing)
        self.window_closes: datetime | None = None
        self.abandon_reason: Reason | None = None
        self.connection_failures = 0
        self.started = time.monotonic()
        self.last_check = 0.0
        # Deliveries in hand whose address the owner has suppressed, looked up per batch and once a second.
        self.suppressed: dict[int, str] = {}  # delivery id → its suppression's source
        self.last_suppression_check = 0.0
        self.last_heartbeat = 0.0
        self.last_bump = 0.0
        # Outcomes were written since the last bump, which was too recent to bump again then.
        self.bump_owed = False
        self.sent = 0
        self.attempted = 0

    # --- bookkeeping ----------------------------------------------------------------------

    def _heartbeat(self, now: datetime) -> None:
        """Tell the scheduler this attempt is being worked on, so it does not wake another task."""
        if self.keep_awake is None or time.monotonic() - self.last_heartbeat < HEARTBEAT_SECONDS:
            return
        self.last_heartbeat = time.monotonic()
        self.keep_awake(attempt_id=self.attempt.pk, now=now)

    def _blocked(self, now: datetime, *, force: bool = False) -> Reason | None:
        if now >= self.mailing.end_at:
            # The clock part of the rule needs no query: checked before every message.
            return reason("window_closed")
        if not force and time.monotonic() - self.last_check < RECHECK_SECONDS:
            return None
        self.last_check = time.monotonic()
        return run_block_reason(attempt_id=self.attempt.pk, now=now)

    def _outside_window(self, now: datetime) -> str | None:
        """Outside the send window: defer the run's deliveries to its next opening; None while it is open."""
        if self.window.always_open:
            return None
        if self.window.is_open(now):
            self.window_closes = self.window.closes_at(now)
            return None
        self.session.close()
        opens = self.window.next_open(now)
        # Deferred like a limit: the scheduler wakes the run once the deliveries are due (recovery.py), so a
        # restart or a lease sweep in between finds nothing due before the window opens.
        _defer_attempt(attempt_id=self.attempt.pk, until=opens, end_at=self.mailing.end_at)
        logger.info("outside the send window: attempt=%s resumes at %s", self.attempt.pk, opens.isoformat())
        return StopReason.WINDOW

    def _window_closed(self, now: datetime) -> bool:
        return self.window_closes is not None and now >= self.window_closes

    def _check_suppressed(self, rest: list[Delivery], *, force: bool) -> None:
        """Look up which of the deliveries in hand were unsubscribed: at a batch's start and once a second.

        `suppression_add` skips waiting deliveries itself; this catches the ones a worker had already claimed
        (one query per batch, so throughput is kept), and non-ASCII addresses whose case SQLite cannot fold.
        """
        if not force and time.monotonic() - self.last_suppression_check < RECHECK_SECONDS:
            return
        self.last_suppression_check = time.monotonic()
        found = suppressed_sources(self.mailing.owner_id, [d.email for d in rest])
        self.suppressed = {d.pk: found[d.email] for d in rest if d.email in found}

    def _hand_over(self, delivery: Delivery, message_id: str, rest: list[Delivery]) -> bool:
        """Write-ahead before the final dot (`DeliveryLedger.hand_over`); False: the message must not go out."""
        if timezone.now() >= self.mailing.end_at:
            # The envelope exchange may have crossed end_at: nothing goes out after it.
            self.abandon_reason = reason("window_closed")
            return False
        if self._window_closed(timezone.now()):
            # ... or the send window's end: the message waits for the next opening.
            self.abandon_reason = reason("send_window_closed")
            return False
        try:
            return self.ledger.hand_over(delivery, message_id=message_id, rest=rest)
        except (DatabaseError, sqlite3.Error, OSError) as exc:
            # "database is locked" mid-DATA, or the journal's disk full: without the write-ahead the message must
            # not go out.
            logger.warning("hand-over not recorded, message abandoned: delivery=%s error=%s", delivery.pk, exc)
            self.abandon_reason = reason("handover_not_recorded")
            return False

    def _flush(self, done: list[Delivery]) -> None:
        """Write a batch's outcomes (`DeliveryLedger.flush`) and tell the page cache; empties `done`."""
        if not done:
            return
        self.ledger.flush(done)
        self._failures_emit(done)
        self.progress_bump()
        done.clear()

    def _failures_emit(self, done: list[Delivery]) -> None:
        """`delivery.failed` webhooks for the batch's final failures: one cached check, one bulk write."""
        try:
            deliveries_failed_emit(
                owner_id=self.mailing.owner_id,
                attempt_id=self.attempt.pk,
                mailing_id=self.mailing.pk,
                deliveries=done,
            )
        except Exception:
            # A webhook is never worth a stopped send loop.
            logger.exception("delivery.failed webhooks not written: attempt=%s", self.attempt.pk)

    def progress_bump(self, *, force: bool = False) -> None:
        """New data version for the owner's pages: at most every PROGRESS_BUMP_SECONDS while sending.

        On the database cache a bump is two write transactions; once per flush it cost more than the
        flush. A bump skipped for that is owed, and paid by `_catch_up` as soon as the interval has
        passed or before the task idles; `attempt_deliver` bumps once more (forced) when the task run
        ends, however it ends.
        """
        if not force and time.monotonic() - self.last_bump < PROGRESS_BUMP_SECONDS:
            self.bump_owed = True
            return
        self.last_bump = time.monotonic()
        self.bump_owed = False
        data_version_bump(owner_id=self.mailing.owner_id)

    def _catch_up(self, done: list[Delivery], *, idling: bool) -> None:
        """Pay an owed bump once its interval has passed; before idling (a pacing wait), write and pay now."""
        if idling:
            self._flush(done)
            if self.bump_owed:
                self.progress_bump(force=True)
        elif self.bump_owed and time.monotonic() - self.last_bump >= PROGRESS_BUMP_SECONDS:
            self.progress_bump()

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> str:
        most = batch_size_for_rate(max(1, int(settings.SEND_BATCH_SIZE)), limits=self.sender.limits)
        batch_size = min(most, BATCH_SIZE_FIRST)
        while True:
            if self.stop.is_set():
                return StopReason.STOPPED
            if time.monotonic() - self.started >= self.max_seconds:
                return StopReason.BUDGET
            now = timezone.now()
            why = self._blocked(now, force=True)
            if why:
                attempt_skip_rest(attempt_id=self.attempt.pk, why=why, now=now)
                return StopReason.BLOCKED
            self._heartbeat(now)
            outside = self._outside_window(now)
            if outside:
                return outside
            paused = self.sender.paused or sender_pause(smtp_account_id=self.mailing.smtp_account_id)
            if paused:
                # The account may not send (a manager disabled it): the run waits, and ends at end_at as ever.
                self.session.close()
                until = now + timedelta(seconds=SENDER_PAUSE_SECONDS)
                _defer_attempt(attempt_id=self.attempt.pk, until=until, end_at=self.mailing.end_at)
                logger.info(
                    "sending paused: attempt=%s account=%s reason=%s", self.attempt.pk, self.config.account, paused.code
                )
                return StopReason.PAUSED
            if not self.session.is_open:
                gate = breaker_gate(account=self.config.account, now=now, probe_seconds=self.deadline_seconds)
                if not gate.allowed:
                    assert gate.retry_at is not None
                    _defer_attempt(
                        attempt_id=self.attempt.pk, until=gate.retry_at, end_at=self.mailing.end_at, cause=gate.cause
                    )
                    return StopReason.PAUSED
                self.probe = self.probe or gate.probe
            reservation = ratelimit_reserve(
                account=self.config.account, want=batch_size, now=now, limits=self.sender.limits
            )
            if reservation.granted <= 0:
                assert reservation.retry_at is not None
                _defer_attempt(attempt_id=self.attempt.pk, until=reservation.retry_at, end_at=self.mailing.end_at)
                logger.info(
                    "sending limit reached: attempt=%s resumes at %s", self.attempt.pk, reservation.retry_at.isoformat()
                )
                return StopReason.LIMITED
            pacing = max(0.0, (reservation.start - now).total_seconds()) + reservation.granted * reservation.interval
            lease_until = now + timedelta(seconds=pacing + self.deadline_seconds + LEASE_MARGIN)
            batch = self.ledger.claim(limit=reservation.granted, now=now, lease_until=lease_until)
            unclaimed = reservation.granted - len(batch)
            ratelimit_refund(account=self.config.account, reservation=reservation, unused=unclaimed)
            if not batch:
                return StopReason.IDLE
            batch_started, attempted_before = time.monotonic(), self.attempted
            verdict = self._send_batch(batch, reservation=reservation, lease_until=lease_until)
            if verdict is not None:
                return verdict
            # Messages that went to the server: skipped or released ones say nothing of its speed.
            batch_size = next_batch_size(
                most=most,
                sent=self.attempted - attempted_before,
                seconds=time.monotonic() - batch_started,
                paced=bool(reservation.interval),
            )

    def _send_batch(self, batch: list[Delivery], *, reservation: Reservation, lease_until: datetime) -> str | None:
        """Send a claimed batch; returns a StopReason to end the task run, or None to claim more."""
        done: list[Delivery] = []
        attempted_before = self.attempted
        last_flush = time.monotonic()
        try:
            for i, d in enumerate(batch):
                rest = batch[i:]
                if i and self.stop.is_set():
                    done.extend(self.ledger.release(r, until=None) for r in rest)
                    return StopReason.STOPPED
                waited = False
                self._catch_up(done, idling=False)
                if reservation.interval:
                    # Pace first, then check: the mailing may end or be stopped during the wait.
                    wait = (reservation.start - timezone.now()).total_seconds() + i * reservation.interval
                    if wait > 0:
                        waited = True
                        if wait >= PROGRESS_BUMP_SECONDS:
                            # The pages show what went out before the pause, not a second later.
                            self._catch_up(done, idling=True)
                            last_flush = time.monotonic()
                        if self.stop.event.wait(wait):
                            done.extend(self.ledger.release(r, until=None) for r in rest)
                            return StopReason.STOPPED
                now = timezone.now()
                why = self._blocked(now, force=waited)
                if why:
                    done.extend(self.ledger.finish(r, State.SKIPPED, now=now) for r in rest)
                    for r in rest:
                        r.set_reason(why)
                    self._flush(done)
                    attempt_skip_rest(attempt_id=self.attempt.pk, why=why, now=now)
                    return StopReason.BLOCKED
                if self._window_closed(now):
                    # The send window closed mid-batch: the rest go back, and the loop defers them to its next opening.
                    done.extend(self.ledger.release(r, until=None) for r in rest)
                    return None
                if (lease_until - now).total_seconds() < self.deadline_seconds + LEASE_MARGIN / 2:
                    # Not enough lease left to finish one more message within its deadline.
                    done.extend(self.ledger.release(r, until=None) for r in rest)
                    return None
                self._check_suppressed(rest, force=i == 0)
                if d.pk in self.suppressed:
                    done.append(self.ledger.finish(d, State.SKIPPED, now=now))
                    d.set_reason(reason(suppression_reason_code(self.suppressed[d.pk])))
                    continue
                verdict = self._send_one(d, rest=rest, done=done)
                if verdict is not None:
                    return verdict
                if done and time.monotonic() - last_flush >= FLUSH_SECONDS:
                    self._flush(done)
                    last_flush = time.monotonic()
        finally:
            self._flush(done)
            if self.ledger.marked:
                # Left the batch some other way (an unexpected error): those were never sent.
                self.ledger.unmark(list(self.ledger.marked))
            # Reserved sends that never reached the server (released, skipped, not buildable) go back.
            unused = len(batch) - (self.attempted - attempted_before)
            if unused:
                ratelimit_refund(account=self.config.account, reservation=reservation, unused=unused)
        return None

    def _pause(self, *, reason: Reason, rest: list[Delivery], done: list[Delivery]) -> str:
        """Systemic trouble: open the breaker, put the deliveries in hand back to wait for it."""
        self.session.close()
        now = timezone.now()
        until = breaker_open(account=self.config.account, reason=reason, now=now)
        self.probe = False
        done.extend(self.ledger.release(r, until=until) for r in rest)
        self._flush(done)
        _defer_attempt(attempt_id=self.attempt.pk, until=until, end_at=self.mailing.end_at, cause=reason)
        return StopReason.PAUSED

    def _next_address(self, rest: list[Delivery]) -> str | None:
        """The envelope address of the batch's next delivery, for its envelope to go out ahead (SmtpSession.send's
        `next_to`); None when there is none or it will not be sent as far as is known now."""
        if len(rest) < 2 or not self.session.pipelining or rest[1].pk in self.suppressed:
            return None
        try:
            address = smtp_address(rest[1].email, utf8=True)
        except BuildError:
            return None
        if needs_smtputf8(address) and not self.session.smtputf8:
            return None
        return address

    def _send_one(self, d: Delivery, *, rest: list[Delivery], done: list[Delivery]) -> str | None:
        now = timezone.now()
        try:
            # A non-ASCII local part is built too; whether it can go is known once connected (SMTPUTF8 offered).
            page, headers = unsubscribe_links(owner_id=self.mailing.owner_id, email=d.email, mailing_id=self.mailing.pk)
            to_addr, data, message_id = self.composer.build(
                email=d.email,
                full_name=d.full_name,
                unsubscribe_url=page,
                extra_headers=headers,
                smtputf8=True,
                delivery_id=d.pk,
            )
        except BuildError as exc:
            self.ledger.finish(d, State.FAILED, now=now)
            d.set_reason(reason("not_built", error=exc.reason))
            done.append(d)
            return None
        deadline = time.monotonic() + self.deadline_seconds
        # An envelope sent ahead for someone else (that delivery was skipped meanwhile) ends the connection.
        self.session.expect(to_addr)
        if not self.session.is_open:
            if not self.probe:
                # Reconnecting mid-batch (after a 421 or a drop): another worker may have opened the breaker.
                gate = breaker_gate(account=self.config.account, now=now, probe_seconds=self.deadline_seconds)
                if not gate.allowed:
                    assert gate.retry_at is not None
                    done.extend(self.ledger.release(r, until=gate.retry_at) for r in rest)
                    self._flush(done)
                    _defer_attempt(
                        attempt_id=self.attempt.pk, until=gate.retry_at, end_at=self.mailing.end_at, cause=gate.cause
                    )
                    return StopReason.PAUSED
                self.probe = gate.probe
            try:
                self.session.open(deadline=deadline)
            except SystemicError as exc:
                self.connection_failures += 1
                logger.warning(
                    "smtp connection failed: account=%s reason=%s failures=%s",
                    self.config.account,
                    exc.reason,
                    self.connection_failures,
                )
                threshold = max(1, int(settings.SEND_BREAKER_THRESHOLD))
                if exc.immediate or self.probe or self.connection_failures >= threshold:
                    return self._pause(reason=exc.reason, rest=rest, done=done)
                # Not this recipient's fault: it waits for the next connection, nobody is marked failed.
                done.append(self.ledger.release(d, until=None))
                return None
        utf8 = needs_smtputf8(to_addr)
        if utf8 and not self.session.smtputf8:
            self.ledger.finish(d, State.FAILED, now=now)
            d.set_reason(reason("smtputf8_unsupported"))
            done.append(d)
            return None
        d.tries += 1
        self.attempted += 1
        next_to = self._next_address(rest)
        result = self.session.send(
            from_addr=self.from_addr,
            to_addr=to_addr,
            data=data,
            deadline=deadline,
            before_dot=lambda: self._hand_over(d, message_id, rest),
            smtputf8=utf8,
            next_to=next_to,
            next_smtputf8=next_to is not None and needs_smtputf8(next_to),
        )
        d.message_id = message_id
        if result.outcome == Outcome.ABANDONED:
            d.tries -= 1
            self.attempted -= 1
            if self.abandon_reason is not None:
                # Still ours and never sent: back to pending (skipped at the next check if the run ended).
                logger.warning(
                    "message abandoned before the final dot: delivery=%s reason=%s", d.pk, self.abandon_reason.code
                )
                self.abandon_reason = None
                done.append(self.ledger.release(d, until=None))
            else:
                logger.warning("lease lost before the final dot: delivery=%s", d.pk)
            return None
        if result.outcome == Outcome.SYSTEMIC:
            d.tries -= 1
            self.attempted -= 1
            logger.warning(
                "smtp systemic refusal: account=%s code=%s reply=%s", self.config.account, result.code, result.reply
            )
            assert result.reason is not None
            return self._pause(reason=result.reason.with_params(reply=result.reply), rest=rest, done=done)
        self.connection_failures = self.connection_failures + 1 if result.connection_failure else 0
        if self.probe:
            self.probe = False
            breaker_close(account=self.config.account, now=timezone.now())
        done.append(self.ledger.apply(d, result, now=timezone.now()))
        # At once, not with the batch: should this process be killed, the sweep finds the outcome (journal.py).
        self.ledger.journal.outcome(d)
        if result.outcome == Outcome.SENT:
            self.sent += 1
        if self.connection_failures >= max(1, int(settings.SEND_BREAKER_THRESHOLD)):
            return self._pause(reason=reason("connection_failures"), rest=rest[1:], done=done)
        return None


def _envelope_sender(from_email: str) -> str:
    """MAIL FROM address of DEFAULT_FROM_EMAIL; written into the command as is, so validated here."""
    from email.utils import parseaddr

    from mailings.delivery.compose import smtp_address

    try:
        return smtp_address(parseaddr(from_email)[1] or from_email)
    except BuildError:
        # A broken setting must not inject SMTP commands; the server will refuse the sender
        # (systemic: the breaker opens and the owner sees why).
        return "".join(c for c in from_email if c.isprintable() and c not in "<>\r\n ")


def attempt_deliver(
    *,
    attempt_id: int,
    max_seconds: float | None = None,
    stop: Stop | None = None,
    keep_awake: KeepAwake | None = None,
) -> str:
    """One bounded task run over an attempt's due deliveries; returns why it stopped (StopReason).

    Finishes the attempt when every delivery is final. Safe to run in several workers at once. What
    happens next (enqueue the rest, let the scheduler wake it) is the caller's: `tasks.delivery_run`.
    `stop` is set on SIGTERM (`stopping.graceful_sigterm`); `keep_awake(attempt_id=, now=)` is called
    every few seconds while the run works, so the scheduler does not wake another task for it.
    """
    attempt = Attempt.objects.select_related("mailing__message__owner", "mailing__owner").filter(pk=attempt_id).first()
    if attempt is None or attempt.is_final:
        return StopReason.FINAL
    budget = float(settings.SEND_TASK_MAX_SECONDS if max_seconds is None else max_seconds)
    engine = _Engine(attempt=attempt, stop=stop or Stop(), max_seconds=budget, keep_awake=keep_awake)
    clean = False
    try:
        verdict = engine.run()
        clean = True
    except Exception:
        # Leases of the batch in hand expire and the sweep recovers them; say what happened.
        logger.exception("delivery task failed: attempt=%s", attempt_id)
        raise
    finally:
        engine.session.close()
        # Every outcome is in the database after a clean end; otherwise the sweep needs the journal.
        engine.ledger.journal.close(remove=clean)
        # Claims, skips, deferrals and the last outcomes of this run change what its pages show.
        engine.progress_bump(force=True)
    logger.info("delivery task: attempt=%s sent=%s stop=%s", attempt_id, engine.sent, verdict)
    attempt_finish_if_done(attempt_id=attempt_id)
    return verdict
