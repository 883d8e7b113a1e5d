"""Finishing a run of a mailing: its status, counts and the server's replies, grouped (docs/architecture.md, step 4).

The task run that writes a run's last outcome finishes it (mailings/delivery/engine.py); the
scheduler finishes the runs whose task died after that write (mailings/delivery/recovery.py).
"""

import json
import logging
import re
from collections import Counter
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone, translation

from core.data_versions import data_version_bump_for_attempts
from mailings.delivery.counts import STATE_COUNT_FIELDS
from mailings.delivery.finish_report import attempt_finished_notify
from mailings.delivery.reasons import reason, reason_text
from mailings.models import Attempt, Delivery

logger = logging.getLogger(__name__)

State = Delivery.State
NOT_FINAL_STATES = (State.PENDING, State.SENDING, State.RETRY_WAIT)

# Per-message parts of a reply (queue ids) would make every line of the summary unique.
_QUEUE_ID = re.compile(r"(?i)(:?\s*queued(\s+as\s+\S+)?|\s+id=\S+|\s+<[^>]*>|\s*\(\S*\)$)")


def _summary_entry(reply: str, code: str, params: dict[str, Any] | None, state: str) -> dict[str, Any]:
    if reply:
        return {"reply": _QUEUE_ID.sub("", reply).strip()[:120] or reply[:120]}
    return {"state": state, "reason": code, "params": params}


def attempt_summary(*, attempt_id: int, limit: int = 8) -> list[dict[str, Any]]:
    """The server's real replies, grouped, as entries for `summary_text`, most frequent first.

    A delivery the server never answered (skipped, unknown, failed before any reply) is grouped by its
    state and reason instead; past `limit` groups, a last entry says how many more there were.
    """
    counter: Counter[str] = Counter()
    rows = (
        Delivery.objects.filter(attempt_id=attempt_id)
        .values_list("smtp_reply", "reason", "reason_params", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for reply, code, params, state, n in rows:
        counter[json.dumps(_summary_entry(reply, code, params, state), sort_keys=True)] += n
    entries = [{**json.loads(key), "n": n} for key, n in counter.most_common(limit)]
    if len(counter) > limit:
        entries.append({"more": len(counter) - limit})
    return entries


def summary_text(entries: list[dict[str, Any]]) -> str:
    """`250 2.0.0 Ok ×98; 550 5.1.1 User unknown ×2; Пропущено: рассылка отключена ×3`, in the active language."""
    parts = []
    for entry in entries:
        if "more" in entry:
            parts.append(reason("more_variants", n=entry["more"]).text())
        elif "reply" in entry:
            parts.append(f"{entry['reply']} ×{entry['n']}")
        else:
            state = entry.get("state", "")
            label = str(State(state).label) if state in State.values else state
            why = reason_text(entry.get("reason", ""), entry.get("params"))
            parts.append(f"{label}: {why} ×{entry['n']}" if why else f"{label} ×{entry['n']}")
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
    summary = attempt_summary(attempt_id=attempt_id)
    with translation.override(settings.LANGUAGE_CODE):
        # Stored once in the service's language for search, the admin and the command line; pages render `summary`.
        server_response = summary_text(summary)
    now = timezone.now()
    with transaction.atomic():
        won = _attempt_finish_write(
            attempt_id=attempt_id, status=status, now=now, counts=counts, summary=summary, text=server_response
        )
        if won:
            # The run.finished webhook is written with the finish; the owner's report goes after the commit.
            try:
                with transaction.atomic():
                    attempt_finished_notify(attempt_id=attempt_id)
            except Exception:
                # Telling the owner must never keep a run from finishing.
                logger.exception("run finished but the owner could not be told: attempt=%s", attempt_id)
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
            server_response,
        )
    return bool(won)


def _attempt_finish_write(
    *, attempt_id: int, status: str, now: datetime, counts: dict[str, int], summary: list[dict[str, Any]], text: str
) -> int:
    """The conditional UPDATE that finishes the run: 1 for the one caller that won it."""
    return Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.IN_PROGRESS).update(
        status=status,
        finished_at=now,
        # The counters kept during the run, recounted from the ledger once more (every delivery final).
        **{column: counts.get(state, 0) for state, column in STATE_COUNT_FIELDS.items()},
        total_count=sum(counts.values()),
        server_response=text,
        summary=summary,
    )
