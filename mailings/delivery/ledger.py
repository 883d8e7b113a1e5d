"""The delivery engine's writes to one task run's deliveries (the engine is in mailings/delivery/engine.py).

A `DeliveryLedger` claims a batch of due deliveries under its lease owner, marks them `handed_over`
before their final dots (for up to SEND_HANDOVER_GROUP of them with one commit), and writes their
outcomes back. Every write is conditional on the lease owner: a lease the sweep took away from a
worker that was too slow is never overwritten by it.
"""

import logging
import os
import socket
import sqlite3
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from mailings.delivery.counts import attempt_counts_apply, attempt_counts_recount, state_moves
from mailings.delivery.journal import Journal
from mailings.delivery.reasons import reason
from mailings.delivery.smtp import Outcome, SendResult
from mailings.models import Attempt, Delivery

# What the raw statements below bind: states, owners, adapted datetimes, ids and flags.
SqlParams = list[bool | int | str | None]

logger = logging.getLogger(__name__)

# A delivery marked by an earlier group mark goes out (with no write) only while this much of our lease is left.
# The engine starts a message only with the per-message deadline plus half of its LEASE_MARGIN left, and the
# watchdog ends a message by its deadline, so only a process frozen (or a clock jumping) mid-message gets here.
LEASE_SAFETY_SECONDS = 5.0

State = Delivery.State
# The JSON column's value as the backend takes it in raw SQL (text on SQLite, a Jsonb adapter on PostgreSQL).
reason_params_prep = Delivery._meta.get_field("reason_params").get_db_prep_save

_TABLE = Delivery._meta.db_table
_HAND_OVER_SQL = (
    f"UPDATE {_TABLE} SET handed_over = %s, message_id = %s WHERE id = %s AND state = %s AND lease_owner = %s"
)
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
# Matches no delivery: the claim runs _CLAIM_SQL once per source state (one branch disabled each time), so
# its row counts say exactly how many left pending and retry_wait for the attempt's counters.
_NO_STATE = ""
_FLUSH_SQL = (
    f"UPDATE {_TABLE} SET state = %s, tries = %s, next_try_at = %s, lease_until = NULL, lease_owner = '', "
    "handed_over = %s, smtp_code = %s, smtp_reply = %s, reason = %s, reason_params = %s, message_id = %s, "
    "finished_at = %s "
    "WHERE id = %s AND state = %s AND lease_owner = %s"
)


def claimable_fresh(*, attempt_id: int) -> "QuerySet[Delivery, int]":
    """Ids of the attempt's never-tried deliveries, in id order, straight from delivery_claim_idx.

    A claim reads narrow ranges of that index (attempt, state, next_try_at, id), each already in the
    order wanted, instead of one query with the whole "due" OR, which made SQLite walk every delivery
    of the attempt: a claim costs the same at the end of a 100,000-recipient run as at its start.
    """
    return (
        Delivery.objects.filter(attempt_id=attempt_id, state=State.PENDING, next_try_at__isnull=True)
        .order_by("next_try_at", "pk")
        .values_list("pk", flat=True)
    )


def claimable_due(*, attempt_id: int, state: str, now: datetime) -> "QuerySet[Delivery, int]":
    """Ids in `state` whose time has come: retries after their back-off (retry_wait), or deliveries
    deferred by the breaker or the limits (pending with a time), earliest first, from the same index."""
    return (
        Delivery.objects.filter(attempt_id=attempt_id, state=state, next_try_at__lte=now)
        .order_by("next_try_at", "pk")
        .values_list("pk", flat=True)
    )


def _in_list(ids: list[int]) -> str:
    """`(%s, %s, …)` for an `id IN` of these ids (appended to the SQL constants above)."""
    return "(" + ", ".join(["%s"] * len(ids)) + ")"


def _lease_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class DeliveryLedger:
    """The deliveries one task run holds under its own lease owner, and their rows in the database."""

    def __init__(self, *, attempt: Attempt) -> None:
        self.attempt = attempt
        self.mailing = attempt.mailing
        self.owner = _lease_owner()
        self.handover_group = max(1, int(settings.SEND_HANDOVER_GROUP))
        # Deliveries marked handed_over in the database whose message has not reached its final dot yet.
        self.marked: set[int] = set()
        # Final dots and outcomes as they happen, for the sweep should this process be killed (journal.py).
        self.journal = Journal(lease_owner=self.owner)
        self.lease_until: datetime | None = None

    def _candidates(self, *, limit: int, now: datetime) -> list[int]:
        """Up to `limit` due delivery ids of the attempt.

        Due retries first (their back-off is what the recipient was promised, however long the list),
        then deliveries deferred by the breaker or the limits, then never-tried ones in id order.
        """
        attempt_id = self.attempt.pk
        ids = list(claimable_due(attempt_id=attempt_id, state=State.RETRY_WAIT, now=now)[:limit])
        if len(ids) < limit:
            ids += claimable_due(attempt_id=attempt_id, state=State.PENDING, now=now)[: limit - len(ids)]
        if len(ids) < limit:
            ids += claimable_fresh(attempt_id=attempt_id)[: limit - len(ids)]
        return ids

    def claim(self, *, limit: int, now: datetime, lease_until: datetime) -> list[Delivery]:
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
            if self._claim_rows(candidates, now=adapt(now), lease_until=adapt(lease_until)):
                won = candidates
                break
            # Lost every row to another worker: try the next ones instead of going idle while work remains.
        if not won:
            return []
        self.lease_until = lease_until
        rows = (
            Delivery.objects.filter(pk__in=won, lease_owner=self.owner)
            .only(
                "pk", "email", "full_name", "tries", "state", "handed_over", "next_try_at", "attempt_id", "recipient_id"
            )
            .order_by("pk")
        )
        return [d for d in rows if d.state == State.SENDING]

    def _claim_rows(self, candidates: list[int], *, now: str | None, lease_until: str | None) -> int:
        """The claim's UPDATE, per source state, with the attempt's counters in the same transaction."""
        sql = _CLAIM_SQL + _in_list(candidates)
        head: SqlParams = [State.SENDING, self.owner, lease_until]
        with transaction.atomic():
            from_pending = self._execute(sql, [*head, State.PENDING, now, _NO_STATE, now, *candidates])
            from_retry = self._execute(sql, [*head, _NO_STATE, now, State.RETRY_WAIT, now, *candidates])
            moves: dict[str, int] = {
                State.PENDING: -from_pending,
                State.RETRY_WAIT: -from_retry,
                State.SENDING: from_pending + from_retry,
            }
            attempt_counts_apply(attempt_id=self.attempt.pk, deltas=moves)
        return from_pending + from_retry

    def hand_over(self, delivery: Delivery, *, message_id: str, rest: list[Delivery]) -> bool:
        """Write-ahead before the final dot; False if our lease was swept meanwhile (then do not send).

        A delivery already marked by an earlier group mark goes out with no write. Otherwise the next
        up-to-SEND_HANDOVER_GROUP deliveries of the batch (`rest`, starting with this one) are marked
        with one conditional UPDATE. Marked ones the worker does not send while alive are written back
        with handed_over cleared by `flush` (their in-memory `handed_over` stays False) or `unmark`.
        A database error or a journal that cannot be written (OSError) is raised: the caller must then not send
        the message. With True, the journal has this final dot's line.
        """
        if not self._may_hand_over(delivery, message_id=message_id, rest=rest):
            return False
        self.journal.dot(delivery_id=delivery.pk, message_id=message_id)
        return True

    def _may_hand_over(self, delivery: Delivery, *, message_id: str, rest: list[Delivery]) -> bool:
        if delivery.pk in self.marked:
            self.marked.discard(delivery.pk)
            # No write before this dot: our lease must still be good. Once it has run out the sweep may have
            # read our journal without this dot and put the delivery back to pending (a process frozen for longer
            # than its lease, a clock jump): sending now could give a duplicate.
            margin = timedelta(seconds=LEASE_SAFETY_SECONDS)
            return self.lease_until is None or timezone.now() < self.lease_until - margin
        if self.handover_group == 1:
            return self._hand_over_one(delivery, message_id)
        ids = [r.pk for r in rest[: self.handover_group]]
        if not ids or ids[0] != delivery.pk:
            ids = [delivery.pk, *(pk for pk in ids if pk != delivery.pk)][: self.handover_group]
        marked = self._mark_group(ids)
        if delivery.pk not in marked:
            return False
        marked.discard(delivery.pk)
        self.marked |= marked
        return True

    def _execute(self, sql: str, params: SqlParams) -> int:
        """Raw SQL with %s placeholders; returns the row count (the DB-API connection on SQLite: cheaper)."""
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            return int(connection.connection.execute(sql.replace("%s", "?"), params).rowcount)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount)

    def _mark_group(self, ids: list[int]) -> set[int]:
        """One conditional UPDATE marking `ids` handed over; returns the ids marked (those still ours)."""
        in_list = _in_list(ids)
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        params: SqlParams = [True, State.SENDING, self.owner, now, *ids]
        count = self._execute(_GROUP_MARK_SQL + in_list, params)
        if count == len(ids):
            return set(ids)
        if count == 0:
            return set()
        # Some leases were lost meanwhile (rare): find out which rows carry our mark.
        with connection.cursor() as cursor:
            cursor.execute(_GROUP_MARKED_SQL + in_list, [True, State.SENDING, self.owner, *ids])
            return {int(row[0]) for row in cursor.fetchall()}

    def unmark(self, ids: list[int]) -> None:
        """Clear the mark of deliveries that were marked but will not be sent by this run (best effort)."""
        ids = [pk for pk in ids if pk in self.marked]
        self.marked.difference_update(ids)
        if not ids:
            return
        try:
            self._execute(_GROUP_UNMARK_SQL + _in_list(ids), [False, State.SENDING, self.owner, *ids])
        except (DatabaseError, sqlite3.Error) as exc:
            # Left marked: the sweep reports them unknown, never resent (as after a crash).
            logger.warning("hand-over marks not cleared: deliveries=%s error=%s", ids, exc)

    def _hand_over_one(self, delivery: Delivery, message_id: str) -> bool:
        """SEND_HANDOVER_GROUP=1: the per-message write-ahead (with the Message-ID)."""
        # Raw SQL through `_execute`: this runs once per message and the ORM's query compilation
        # would cost more than the SMTP exchange itself on a fast server.
        return self._execute(_HAND_OVER_SQL, [True, message_id, delivery.pk, State.SENDING, self.owner]) == 1

    def flush(self, done: list[Delivery]) -> None:
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
                reason_params_prep(d.reason_params, connection),
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
            if cursor.rowcount == len(rows):
                attempt_counts_apply(
                    attempt_id=self.attempt.pk,
                    deltas=state_moves(source=State.SENDING, targets=(d.state for d in done)),
                )
            else:
                # Some leases were swept meanwhile (a worker too slow): their rows were not ours to write, and the
                # sweep counted them. Rare: count the attempt again instead of finding out which rows they were.
                logger.warning("outcomes written for %s of %s deliveries: counts recounted", cursor.rowcount, len(rows))
                attempt_counts_recount(attempt_id=self.attempt.pk)
        # Marked but released, skipped or failed before their dot: the flush wrote handed_over = False.
        self.marked.difference_update(d.pk for d in done)

    @staticmethod
    def release(d: Delivery, *, until: datetime | None) -> Delivery:
        d.state = State.PENDING
        d.next_try_at = until
        d.lease_until = None
        d.lease_owner = ""
        d.handed_over = False
        return d

    @staticmethod
    def finish(d: Delivery, state: str, *, now: datetime, result: SendResult | None = None) -> Delivery:
        d.state = state
        d.lease_until = None
        d.lease_owner = ""
        d.next_try_at = None
        d.finished_at = now if state in Delivery.FINAL_STATES else None
        if result is not None:
            d.smtp_code = result.code
            d.smtp_reply = result.reply
            d.set_reason(result.reason)
        return d

    def apply(self, d: Delivery, result: SendResult, *, now: datetime) -> Delivery:
        if result.outcome == Outcome.SENT:
            d.handed_over = True
            return self.finish(d, State.SENT, now=now, result=result)
        if result.outcome == Outcome.FAILED:
            d.handed_over = False
            return self.finish(d, State.FAILED, now=now, result=result)
        if result.outcome == Outcome.UNKNOWN:
            d.handed_over = True
            return self.finish(d, State.UNKNOWN, now=now, result=result)
        # Transient: back-off until end_at or the maximum age, then failed.
        d.handed_over = False
        backoff = list(settings.SEND_RETRY_BACKOFF) or [60]
        next_try = now + timedelta(seconds=int(backoff[min(max(d.tries, 1) - 1, len(backoff) - 1)]))
        max_age_end = self.attempt.started_at + timedelta(seconds=int(settings.SEND_RETRY_MAX_AGE))
        if next_try >= self.mailing.end_at or next_try > max_age_end:
            self.finish(d, State.FAILED, now=now, result=result)
            d.set_reason(reason("retries_exhausted", reason=result.reason) if result.reason else None)
            return d
        self.finish(d, State.RETRY_WAIT, now=now, result=result)
        d.next_try_at = next_try
        return d
