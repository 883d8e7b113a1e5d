"""Writes to the suppression list, and the one question every sender asks: is this address suppressed?

`suppression_add` is THE place where an unsubscribe happens (the page, one-click, the owner, bounces,
complaints, the API): anything that must follow an unsubscribe (a webhook, a consent record) is wired here.
"""

import logging
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from core.data_versions import data_version_bump
from mailings.delivery.counts import attempt_counts_apply
from mailings.delivery.reasons import reason, suppression_reason_code
from mailings.delivery.run_finish import attempt_finish_if_done
from mailings.models import Attempt, Delivery
from suppressions.models import Suppression, SuppressionLift, suppression_key
from users.models import User
from webhooks.services import event_emit

logger = logging.getLogger(__name__)

# Addresses per query of `suppressed_emails` (SQLite's bound-variable limit is far above it).
_LOOKUP_CHUNK = 500


def suppression_add(*, owner_id: int, email: str, source: str, reason: str = "", detail: str = "") -> Suppression:
    """Suppress `email` for this owner (idempotent: an existing entry is returned unchanged).

    Also stops the address's deliveries not yet handed to the mail server in the owner's running attempts
    (skipped «отписался», or why the address is on the list for other sources: `deliveries_stop_for_address`).
    """
    if source not in Suppression.Source.values:
        raise ValueError(f"unknown suppression source: {source!r}")
    key = suppression_key(email)
    existing = Suppression.objects.filter(owner_id=owner_id, email_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            entry = Suppression.objects.create(
                owner_id=owner_id,
                email=email.strip()[:320],
                email_key=key[:320],
                source=source,
                reason=reason[:500],
                detail=detail,
            )
            stopped = deliveries_stop_for_address(owner_id=owner_id, email=email, source=source)
            event_emit(
                owner_id=owner_id,
                event="recipient.unsubscribed",
                data={
                    "email": entry.email,
                    "source": entry.source,
                    "reason": entry.reason,
                    "unsubscribed_at": entry.created_at.isoformat(),
                    "deliveries_stopped": stopped,
                },
            )
    except IntegrityError:
        # Two unsubscribes of one address at once (a mail client's one-click and a click on the link).
        return Suppression.objects.get(owner_id=owner_id, email_key=key)
    logger.info("address suppressed: owner=%s source=%s entry=%s stopped=%s", owner_id, source, entry.pk, stopped)
    data_version_bump(owner_id=owner_id)
    return entry


def deliveries_stop_for_address(*, owner_id: int, email: str, source: str = Suppression.Source.LINK) -> int:
    """Skip the address's deliveries in the owner's running attempts that no server has seen.

    Pending and retry_wait ones, and those a worker has claimed (sending) but not marked handed over: the
    worker's hand-over mark before the final dot is conditional on the row still being its `sending` one, so
    it fails and the message is dropped unsent (mailings/delivery/ledger.py). A claimed delivery already
    marked in a hand-over group (SEND_HANDOVER_GROUP) is seconds from its dot and goes out. Returns how many
    were stopped; finishes the attempts whose last open delivery this was, after commit.
    """
    running = list(
        Attempt.objects.filter(mailing__owner_id=owner_id, status=Attempt.Status.IN_PROGRESS).values_list(
            "pk", flat=True
        )
    )
    if not running:
        return 0
    # «отписался» for the recipient's own request, else why the address is on the list (a bounce, a complaint, the
    # owner): `suppression_reason_code`.
    why = reason(suppression_reason_code(source))
    open_states = [Delivery.State.PENDING, Delivery.State.RETRY_WAIT, Delivery.State.SENDING]
    waiting = (
        Delivery.objects.filter(attempt_id__in=running, state__in=open_states, handed_over=False)
        .alias(email_key=Lower("email"))
        .filter(email_key=suppression_key(email))
    )
    touched = list(waiting.values_list("attempt_id", flat=True).distinct())
    if not touched:
        return 0
    ids = list(waiting.values_list("pk", flat=True))
    stopped = 0
    # One UPDATE per (attempt, state it leaves), so that the attempt's counters move by exactly what changed
    # (mailings/delivery/counts.py), in this transaction.
    for attempt_id in touched:
        for state in open_states:
            moved = Delivery.objects.filter(pk__in=ids, attempt_id=attempt_id, state=state, handed_over=False).update(
                state=Delivery.State.SKIPPED,
                reason=why.code,
                reason_params=why.stored_params(),
                finished_at=timezone.now(),
                next_try_at=None,
                lease_until=None,
                lease_owner="",
            )
            if moved:
                attempt_counts_apply(attempt_id=attempt_id, deltas={state: -moved, Delivery.State.SKIPPED: moved})
                stopped += moved

    def finish() -> None:
        for attempt_id in touched:
            attempt_finish_if_done(attempt_id=attempt_id)

    transaction.on_commit(finish)
    return stopped


def suppressed_emails(owner_id: int, emails: Iterable[str]) -> set[str]:
    """Those of `emails` (as given) that this owner has suppressed."""
    return set(suppressed_sources(owner_id, emails))


def suppressed_sources(owner_id: int, emails: Iterable[str]) -> dict[str, str]:
    """{address as given: its suppression's source} for those of `emails` this owner has suppressed."""
    by_key: dict[str, list[str]] = {}
    for email in emails:
        by_key.setdefault(suppression_key(email), []).append(email)
    keys = list(by_key)
    found: dict[str, str] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = keys[start : start + _LOOKUP_CHUNK]
        for key, source in Suppression.objects.filter(owner_id=owner_id, email_key__in=chunk).values_list(
            "email_key", "source"
        ):
            found.update(dict.fromkeys(by_key[key], source))
    return found


def is_suppressed(owner_id: int, email: str) -> bool:
    return Suppression.objects.filter(owner_id=owner_id, email_key=suppression_key(email)).exists()


def suppression_lift(
    *, suppression: Suppression, how: str, statement: str = "", by: User | None = None
) -> SuppressionLift:
    """Remove an entry, keeping the record of it and of the consent stated (the owner's form or «Подписаться снова»)."""
    with transaction.atomic():
        lift = SuppressionLift.objects.create(
            owner_id=suppression.owner_id,
            email=suppression.email,
            suppressed_at=suppression.created_at,
            suppressed_source=suppression.source,
            suppressed_reason=suppression.reason,
            how=how,
            statement=statement,
            lifted_by=by,
        )
        Suppression.objects.filter(pk=suppression.pk).delete()
    logger.info("suppression lifted: owner=%s how=%s lift=%s", suppression.owner_id, how, lift.pk)
    data_version_bump(owner_id=suppression.owner_id)
    return lift
