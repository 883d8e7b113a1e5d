"""Finishing a run of a mailing: its status, counts and the server's replies, grouped (ARCHITECTURE.md, step 5).

The task run that writes a run's last outcome finishes it (mailings/delivery/engine.py); the
scheduler finishes the runs whose task died after that write (mailings/delivery/recovery.py).
"""

import logging
import re
from collections import Counter

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from core.data_versions import data_version_bump_for_attempts
from mailings.models import Attempt, Delivery

logger = logging.getLogger(__name__)

State = Delivery.State
NOT_FINAL_STATES = (State.PENDING, State.SENDING, State.RETRY_WAIT)

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
