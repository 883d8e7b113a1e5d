"""Keeping runs moving from outside the delivery engine (mailings/delivery/engine.py).

How many delivery tasks a new run gets, and what the scheduler does every second: recover the
leases of killed workers, finish the runs whose task died after the last write, and wake the runs
with deliveries due again (retries, the end of a pause) when no task is working on them.
"""

import logging
from collections import Counter
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from core.data_versions import data_version_bump_for_attempts
from mailings.delivery.counts import attempt_counts_apply
from mailings.delivery.journal import journal_read, journal_remove, outcome_values
from mailings.delivery.run_finish import NOT_FINAL_STATES, attempt_finish_if_done
from mailings.delivery.tasks import attempt_wake_claim, enqueue_attempt_delivery
from mailings.models import Attempt, Delivery

logger = logging.getLogger(__name__)

State = Delivery.State


# --- called by the scheduler every second ---------------------------------------------------


def deliveries_sweep_expired_leases(*, now: datetime) -> int:
    """Recover the leases of killed workers; returns how many deliveries were recovered.

    Never handed to the server → pending (sent again). Handed over (marked before a final dot, in groups):
    what the dead worker's journal says (journal.py) — its outcome, unknown for the one message whose dot was
    in flight, pending for the rest of its group; without a journal to trust (another host, a reboot since),
    unknown, never resent. Then re-enqueue delivery for the affected attempts.
    """
    expired = Delivery.objects.filter(state=State.SENDING, lease_until__lt=now)
    attempt_ids = sorted(set(expired.values_list("attempt_id", flat=True)))
    if not attempt_ids:
        return 0
    moved: Counter[str] = Counter()
    for attempt_id in attempt_ids:
        moved += deliveries_sweep_attempt(attempt_id=attempt_id, now=now)
    data_version_bump_for_attempts(attempt_ids=attempt_ids)
    for attempt_id in attempt_ids:
        if not attempt_finish_if_done(attempt_id=attempt_id):
            enqueue_attempt_delivery(attempt_id=attempt_id, count=1)
    logger.warning(
        "expired leases swept: %s attempts=%s",
        " ".join(f"{state}={n}" for state, n in sorted(moved.items())),
        ",".join(map(str, attempt_ids)),
    )
    return sum(moved.values())


def _sweep_by_journal(expired: "QuerySet[Delivery]", *, owner: str, now: datetime) -> Counter[str]:
    """The marked deliveries of one dead task run, as its journal has them; returns the states written."""
    read = journal_read(lease_owner=owner)
    marked = expired.filter(handed_over=True, lease_owner=owner)
    moved: Counter[str] = Counter()
    if not read.trusted:
        moved[State.UNKNOWN] += marked.update(
            state=State.UNKNOWN,
            lease_until=None,
            lease_owner="",
            finished_at=now,
            reason="worker_lost_after_handover",
            reason_params=None,
        )
        return moved
    # At most a claim (SEND_BATCH_SIZE) of rows per task run: classified one by one.
    for pk in marked.values_list("pk", flat=True):
        row = marked.filter(pk=pk)
        if pk in read.outcomes:
            values = outcome_values(read.outcomes[pk])
            moved[values["state"]] += row.update(**values, lease_until=None, lease_owner="")
        elif pk in read.dots:
            moved[State.UNKNOWN] += row.update(
                state=State.UNKNOWN,
                lease_until=None,
                lease_owner="",
                finished_at=now,
                message_id=read.dots[pk],
                reason="worker_lost_after_handover",
                reason_params=None,
            )
        else:
            # Marked with its group, but the worker died before this message's final dot: never sent.
            moved[State.PENDING] += row.update(
                state=State.PENDING, handed_over=False, lease_until=None, lease_owner="", next_try_at=None
            )
    return moved


def deliveries_sweep_attempt(*, attempt_id: int, now: datetime) -> Counter[str]:
    """One attempt's expired leases, with its counters in the same transaction; returns the states written."""
    expired = Delivery.objects.filter(attempt_id=attempt_id, state=State.SENDING, lease_until__lt=now)
    owners = sorted(set(expired.values_list("lease_owner", flat=True)))
    moved: Counter[str] = Counter()
    with transaction.atomic():
        moved[State.PENDING] += expired.filter(handed_over=False).update(
            state=State.PENDING, lease_until=None, lease_owner="", next_try_at=None
        )
        for owner in owners:
            moved += _sweep_by_journal(expired, owner=owner, now=now)
        moves: dict[str, int] = {**moved, State.SENDING: -sum(moved.values())}
        attempt_counts_apply(attempt_id=attempt_id, deltas=moves)
    for owner in owners:
        # Read and written back: nobody needs it any more (a worker still alive past its lease writes no more).
        journal_remove(lease_owner=owner)
    return +moved


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
    candidates = list(
        Attempt.objects.filter(Q(wake_at__isnull=True) | Q(wake_at__lte=now), status=Attempt.Status.IN_PROGRESS)
        .filter(Exists(due))
        .values_list("pk", flat=True)
    )
    woken = 0
    for attempt_id in candidates:
        if attempt_wake_claim(attempt_id=attempt_id, now=now):
            enqueue_attempt_delivery(attempt_id=attempt_id, count=1)
            woken += 1
    if woken:
        logger.info("woke %s attempt(s) with due deliveries", woken)
    return woken
