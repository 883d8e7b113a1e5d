"""An attempt's deliveries counted by state, kept on the attempt row as the ledger is written (issue 21).

Every write that moves deliveries from one state to another (`ledger.py`'s claim and flush, the sweep in
`recovery.py`, `engine.attempt_skip_rest`) adds the moves to the attempt's counters in the same transaction
with F() increments, so the attempt's summary, its table, the attempts list and the statistics read one row
and agree at every moment of a run; none of them reads the deliveries table. A run's snapshot and its finish
write the counts recounted from the ledger (`attempt_counts_recount`). `manage.py ledger_check` compares the
counters with the ledger and repairs them with `--repair`.

A new delivery state is one more entry in STATE_COUNT_FIELDS (and its column on Attempt).
"""

import logging
from collections import Counter
from collections.abc import Iterable, Mapping

from django.db import transaction
from django.db.models import Count, F, Sum, Value
from django.db.models.functions import Greatest

from mailings.models import Attempt, Delivery

logger = logging.getLogger(__name__)

State = Delivery.State

STATE_COUNT_FIELDS: dict[str, str] = {
    State.PENDING: "pending_count",
    State.SENDING: "sending_count",
    State.RETRY_WAIT: "retry_wait_count",
    State.SENT: "sent_count",
    State.FAILED: "failed_count",
    State.UNKNOWN: "unknown_count",
    State.SKIPPED: "skipped_count",
}
COUNT_FIELDS = ("total_count", *STATE_COUNT_FIELDS.values())
NOT_FINAL_COUNT_FIELDS = tuple(STATE_COUNT_FIELDS[s] for s in State.values if s not in Delivery.FINAL_STATES)


def state_moves(*, source: str, targets: Iterable[str]) -> Counter[str]:
    """The counter deltas of moving one delivery per entry of `targets` out of `source`."""
    deltas: Counter[str] = Counter()
    for target in targets:
        deltas[source] -= 1
        deltas[target] += 1
    return deltas


def attempt_counts_apply(*, attempt_id: int, deltas: Mapping[str, int]) -> None:
    """Add the state moves to the attempt's counters: call inside the transaction of the ledger write.

    A counter never goes below zero: one that drifted (rows edited by hand) must not make the ledger write
    itself fail on the column's CHECK; `manage.py ledger_check` finds and repairs the drift.
    """
    changes = {
        STATE_COUNT_FIELDS[state]: Greatest(F(STATE_COUNT_FIELDS[state]) + n, Value(0))
        for state, n in deltas.items()
        if n
    }
    if changes:
        Attempt.objects.filter(pk=attempt_id).update(**changes)


def attempt_counts_from_ledger(*, attempt_id: int) -> dict[str, int]:
    """The attempt's counter columns as the deliveries table has them (one GROUP BY over delivery_claim_idx)."""
    rows = Delivery.objects.filter(attempt_id=attempt_id).values_list("state").annotate(n=Count("pk")).order_by()
    by_state = dict(rows)
    counts = {column: by_state.get(state, 0) for state, column in STATE_COUNT_FIELDS.items()}
    counts["total_count"] = sum(by_state.values())
    return counts


def attempt_counts_recount(*, attempt_id: int) -> dict[str, int]:
    """Write the counters recounted from the ledger; returns them.

    The attempt row is locked first (PostgreSQL; SQLite's write transaction is exclusive anyway): a worker whose
    delivery write is not committed yet waits on that lock to add its moves, so they land on top of a count
    that does not include them, and a committed one is in both.
    """
    with transaction.atomic():
        list(Attempt.objects.select_for_update().filter(pk=attempt_id).values_list("pk"))
        counts = attempt_counts_from_ledger(attempt_id=attempt_id)
        Attempt.objects.filter(pk=attempt_id).update(**counts)
    return counts


def attempt_counts_check(*, attempt_id: int, repair: bool) -> dict[str, tuple[int, int]]:
    """{column: (stored, recounted)} for one attempt, read consistently (locked as above); repaired if asked."""
    with transaction.atomic():
        stored = Attempt.objects.select_for_update().filter(pk=attempt_id).values(*COUNT_FIELDS).first()
        if stored is None:
            return {}
        counts = attempt_counts_from_ledger(attempt_id=attempt_id)
        diff = {c: (stored[c], counts[c]) for c in COUNT_FIELDS if stored[c] != counts[c]}
        if diff and repair:
            Attempt.objects.filter(pk=attempt_id).update(**counts)
    return diff


def attempt_state_counts(attempt: Attempt) -> dict[str, int]:
    """The attempt's deliveries by state, from its counters (the states with none left out)."""
    return {state: getattr(attempt, column) for state, column in STATE_COUNT_FIELDS.items() if getattr(attempt, column)}


def attempts_remaining(*, mailing_id: int) -> int:
    """Deliveries not final yet in the mailing's runs in progress, from the counters."""
    qs = Attempt.objects.filter(status=Attempt.Status.IN_PROGRESS, mailing_id=mailing_id)
    total = qs.aggregate(n=Sum(sum((F(column) for column in NOT_FINAL_COUNT_FIELDS[1:]), F(NOT_FINAL_COUNT_FIELDS[0]))))
    return int(total["n"] or 0)


def ledger_differences(*, attempt_ids: Iterable[int] | None = None) -> dict[int, dict[str, tuple[int, int]]]:
    """Attempts whose counters differ from the ledger: {attempt: {column: (stored, recounted)}}.

    One GROUP BY over all deliveries (attempt, state) and one read of the attempts: the check reads the whole
    ledger on purpose, so it is a command, never a page.
    """
    deliveries = Delivery.objects.all()
    attempts = Attempt.objects.all()
    if attempt_ids is not None:
        ids = list(attempt_ids)
        deliveries, attempts = deliveries.filter(attempt_id__in=ids), attempts.filter(pk__in=ids)
    ledger: dict[int, Counter[str]] = {}
    for attempt_id, state, n in deliveries.values_list("attempt_id", "state").annotate(n=Count("pk")).order_by():
        ledger.setdefault(attempt_id, Counter())[state] = n
    differences: dict[int, dict[str, tuple[int, int]]] = {}
    for row in attempts.values("pk", *COUNT_FIELDS).order_by("pk").iterator():
        by_state = ledger.get(row["pk"], Counter())
        expected = {column: by_state.get(state, 0) for state, column in STATE_COUNT_FIELDS.items()}
        expected["total_count"] = sum(by_state.values())
        diff = {c: (row[c], expected[c]) for c in COUNT_FIELDS if row[c] != expected[c]}
        if diff:
            differences[row["pk"]] = diff
    return differences


def ledger_check(*, repair: bool = False) -> dict[int, dict[str, tuple[int, int]]]:
    """Attempts whose counters differ from the ledger, each confirmed by a consistent per-attempt read.

    The first pass (`ledger_differences`) reads the deliveries and the attempts at two moments, so a run
    writing meanwhile may look different there; only what the locked re-read confirms is reported (and
    repaired with `repair`).
    """
    confirmed = {}
    for attempt_id in ledger_differences():
        diff = attempt_counts_check(attempt_id=attempt_id, repair=repair)
        if diff:
            confirmed[attempt_id] = diff
    return confirmed
