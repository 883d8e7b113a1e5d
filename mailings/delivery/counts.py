"""An attempt's deliveries counted by state, kept on the attempt row as the ledger is written (issue 21).

Every write that moves deliveries from one state to another (`ledger.py`'s claim and flush, the sweep in
`recovery.py`, `engine.attempt_skip_rest`) adds the moves to the attempt's counters in the same transaction
with F() increments, so the attempt's summary, its table, the attempts list and the statistics read one row
and agree at every moment of a run; none of them reads the deliveries table. A run's snapshot and its finish
write the counts recounted from the ledger (`attempt_counts_recount`). `manage.py ledger_check` compares the
counters with the ledger and repairs them with `--repair`; it also checks the bounce counters
(`bounced_count`, `complaint_count`, moved by bounces/services.py as reports arrive) against the deliveries'
`bounce` mark: hard or soft is a bounce, complaint a complaint.

A new delivery state is one more entry in STATE_COUNT_FIELDS (and its column on Attempt).
"""

import logging
from collections import Counter
from collections.abc import Iterable, Mapping

from django.db import transaction
from django.db.models import Count, F, QuerySet, Sum, Value
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
# Delivery.bounce → the attempt's counter it adds to (none for "").
BOUNCE_COUNT_FIELDS: dict[str, str] = {
    Delivery.Bounce.HARD: "bounced_count",
    Delivery.Bounce.SOFT: "bounced_count",
    Delivery.Bounce.COMPLAINT: "complaint_count",
}
# What ledger_check compares: the counters by state and the bounce counters.
CHECKED_FIELDS = (*COUNT_FIELDS, "bounced_count", "complaint_count")
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


def _expected(by_state: Mapping[str, int], by_bounce: Mapping[str, int]) -> dict[str, int]:
    expected = {column: by_state.get(state, 0) for state, column in STATE_COUNT_FIELDS.items()}
    expected["total_count"] = sum(by_state.values())
    expected["bounced_count"] = expected["complaint_count"] = 0
    for mark, n in by_bounce.items():
        if mark in BOUNCE_COUNT_FIELDS:
            expected[BOUNCE_COUNT_FIELDS[mark]] += n
    return expected


def _ledger_rows(deliveries: "QuerySet[Delivery]") -> Iterable[tuple[int, str, str, int]]:
    """(attempt, state, bounce mark, count): one GROUP BY for both kinds of counter."""
    return deliveries.values_list("attempt_id", "state", "bounce").annotate(n=Count("pk")).order_by()


def attempt_checked_counts_from_ledger(*, attempt_id: int) -> dict[str, int]:
    """Every column ledger_check compares (CHECKED_FIELDS), as the deliveries table has it."""
    by_state: Counter[str] = Counter()
    by_bounce: Counter[str] = Counter()
    for _attempt, state, mark, n in _ledger_rows(Delivery.objects.filter(attempt_id=attempt_id)):
        by_state[state] += n
        by_bounce[mark] += n
    return _expected(by_state, by_bounce)


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
        stored = Attempt.objects.select_for_update().filter(pk=attempt_id).values(*CHECKED_FIELDS).first()
        if stored is None:
            return {}
        counts = attempt_checked_counts_from_ledger(attempt_id=attempt_id)
        diff = {c: (stored[c], counts[c]) for c in CHECKED_FIELDS if stored[c] != counts[c]}
        if diff and repair:
            # Only the columns that differ: a bounce recorded meanwhile waits on the lock and adds on top.
            Attempt.objects.filter(pk=attempt_id).update(**{c: counts[c] for c in diff})
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
    states: dict[int, Counter[str]] = {}
    marks: dict[int, Counter[str]] = {}
    for attempt_id, state, mark, n in _ledger_rows(deliveries):
        states.setdefault(attempt_id, Counter())[state] += n
        marks.setdefault(attempt_id, Counter())[mark] += n
    differences: dict[int, dict[str, tuple[int, int]]] = {}
    for row in attempts.values("pk", *CHECKED_FIELDS).order_by("pk").iterator():
        expected = _expected(states.get(row["pk"], Counter()), marks.get(row["pk"], Counter()))
        diff = {c: (row[c], expected[c]) for c in CHECKED_FIELDS if row[c] != expected[c]}
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
