"""Recording what a bounce report or complaint says (the mailbox settings are in bounces/mailboxes.py).

One report goes `report_ingest` → `report_read` (bounces/reports.py) → each item matched to its delivery
(`delivery_match`) → `bounce_record`, the one place a bounce or complaint is written; it suppresses the
address through `bounce_suppress`.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from bounces.models import Bounce
from bounces.reports import COMPLAINT, HARD, Report, ReportItem, report_read
from bounces.unsubscribe_requests import unsubscribe_request_read
from core.data_versions import data_version_bump
from mailings.models import Attempt, Delivery
from suppressions.models import Suppression
from suppressions.services import suppression_add
from users.models import User
from webhooks.services import event_emit

logger = logging.getLogger(__name__)


class OwnerUnknown(Exception):
    """A piped report names no delivery of ours and no owner was given."""


@dataclass
class IngestResult:
    report: Report
    recorded: list[Bounce] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    # A mailto unsubscribe request (bounces/unsubscribe_requests.py): the suppression it made.
    unsubscribed: Suppression | None = None

    @property
    def recognised(self) -> bool:
        return self.report.recognised or self.unsubscribed is not None


def report_ingest(*, raw: bytes, owner_id: int | None, source: str) -> IngestResult:
    """Read one message and record each bounce or complaint it reports.

    `owner_id` is the mailbox's owner (IMAP) or the one given on the command line; None lets a report's own
    Message-ID say whose it is (OwnerUnknown if it names no delivery). UnreadableMessage for non-messages.
    """
    report = report_read(raw)
    result = IngestResult(report=report)
    if not report.recognised:
        result.unsubscribed = unsubscribe_request_ingest(raw)
        return result
    known = _deliveries_named(report.delivery_ids, owner_id=owner_id)
    if owner_id is None:
        if not known:
            raise OwnerUnknown
        owner_id = _owner_of(known[0])
    for item in report.items:
        delivery = delivery_match(item=item, named=known, owner_id=owner_id)
        if delivery is None and not item.email:
            result.unmatched.append("")
            continue
        if delivery is None:
            # An address we never mailed (or long ago): nothing of ours to mark, nobody to suppress.
            result.unmatched.append(item.email)
            continue
        bounce = bounce_record(owner_id=owner_id, delivery=delivery, item=item, source=source, report=report)
        if bounce is not None:
            result.recorded.append(bounce)
    logger.info(
        "bounce report read: kind=%s owner=%s recorded=%s unmatched=%s",
        report.kind,
        owner_id,
        len(result.recorded),
        len(result.unmatched),
    )
    return result


def unsubscribe_request_ingest(raw: bytes) -> Suppression | None:
    """Suppress the address of a mailto unsubscribe request; None when the message is none (or a forged one).

    The token says whose list it is, whichever mailbox the message arrived in: the service mailbox (where
    UNSUBSCRIBE_MAILTO normally leads), an owner's, or the stdin command. A token of a deleted owner is read
    and acknowledged, and suppresses nothing.
    """
    token = unsubscribe_request_read(raw)
    if token is None:
        return None
    if not User.objects.filter(pk=token.owner_id).exists():
        logger.info("mailto unsubscribe for a deleted owner: owner=%s", token.owner_id)
        return Suppression(owner_id=token.owner_id, email=token.email, source=Suppression.Source.MAILTO)
    entry = suppression_add(owner_id=token.owner_id, email=token.email, source=Suppression.Source.MAILTO)
    data_version_bump(owner_id=token.owner_id)
    logger.info("mailto unsubscribe recorded: owner=%s mailing=%s", token.owner_id, token.mailing_id)
    return entry


def _deliveries_named(ids: list[int], *, owner_id: int | None) -> list[Delivery]:
    found = Delivery.objects.filter(pk__in=ids).select_related("attempt__mailing")
    if owner_id is not None:
        found = found.filter(attempt__mailing__owner_id=owner_id)
    by_id = {d.pk: d for d in found}
    return [by_id[i] for i in ids if i in by_id]


def _owner_of(delivery: Delivery) -> int:
    return int(delivery.attempt.mailing.owner_id)


def delivery_match(*, item: ReportItem, named: list[Delivery], owner_id: int) -> Delivery | None:
    """The delivery a report item is about.

    First the deliveries our signed Message-ID names (quoted in the report's original headers, References or
    In-Reply-To), the one to the item's address (any, when a complaint hides it); then, as a fallback, the
    owner's latest delivery sent to that address within BOUNCE_MATCH_DAYS.
    """
    address = item.email.lower()
    for delivery in named:
        if not address or delivery.email.lower() == address:
            return delivery
    if not address:
        return None
    since = timezone.now() - timedelta(days=int(settings.BOUNCE_MATCH_DAYS))
    return (
        Delivery.objects.filter(
            attempt__mailing__owner_id=owner_id,
            email__iexact=address,
            state=Delivery.State.SENT,
            finished_at__gte=since,
        )
        .order_by("-finished_at", "-pk")
        .first()
    )


def bounce_record(*, owner_id: int, delivery: Delivery, item: ReportItem, source: str, report: Report) -> Bounce | None:
    """Record one bounce or complaint on the ledger and suppress the address where the rules say.

    The one place a bounce is written (a webhook `bounce.recorded` hooks in here). Returns None when this
    report was recorded for this address before (the same message read twice).
    """
    address = (item.email or delivery.email).lower()
    now = timezone.now()
    try:
        with transaction.atomic():
            bounce = Bounce.objects.create(
                owner_id=owner_id,
                delivery=delivery,
                email=address,
                kind=item.kind,
                status=item.status,
                diagnostic=item.diagnostic,
                reporter=report.reporter,
                source=source,
                report_digest=report.digest,
            )
            _delivery_mark(delivery=delivery, kind=item.kind, now=now)
            event_emit(
                owner_id=owner_id,
                event="bounce.recorded",
                data={
                    "email": address,
                    "kind": item.kind,
                    "status": item.status,
                    "diagnostic": item.diagnostic,
                    "reporter": report.reporter,
                    "delivery_id": delivery.pk,
                    "attempt_id": delivery.attempt_id,
                    "recorded_at": bounce.received_at.isoformat(),
                },
            )
    except IntegrityError:
        logger.info("bounce report already recorded: delivery=%s", delivery.pk)
        return None
    if item.kind in (HARD, COMPLAINT):
        bounce_suppress(owner_id=owner_id, email=address, kind=item.kind, bounce=bounce)
    else:
        soft = Bounce.objects.filter(owner_id=owner_id, email=address, kind=Bounce.Kind.SOFT).count()
        if soft >= int(settings.BOUNCE_SOFT_LIMIT):
            bounce_suppress(owner_id=owner_id, email=address, kind=item.kind, bounce=bounce)
    data_version_bump(owner_id=owner_id)
    logger.info(
        "bounce recorded: owner=%s delivery=%s kind=%s status=%s", owner_id, delivery.pk, item.kind, item.status
    )
    return bounce


def _delivery_mark(*, delivery: Delivery, kind: str, now: object) -> None:
    """The delivery's flag and its attempt's counts, each moved once (conditional UPDATEs)."""
    B = Delivery.Bounce
    if kind == COMPLAINT:
        if Delivery.objects.filter(pk=delivery.pk, bounce=B.NONE).update(bounce=B.COMPLAINT, bounced_at=now):
            Attempt.objects.filter(pk=delivery.attempt_id).update(complaint_count=F("complaint_count") + 1)
        return
    # A hard bounce outranks a soft one; neither is undone by a later report, and a complaint (delivered)
    # is overruled by no bounce.
    if Delivery.objects.filter(pk=delivery.pk, bounce=B.NONE).update(bounce=kind, bounced_at=now):
        Attempt.objects.filter(pk=delivery.attempt_id).update(bounced_count=F("bounced_count") + 1)
    elif kind == HARD:
        Delivery.objects.filter(pk=delivery.pk, bounce=B.SOFT).update(bounce=B.HARD)


def bounce_suppress(*, owner_id: int, email: str, kind: str, bounce: Bounce) -> None:
    """Put the address on the owner's suppression list: it is never mailed by this owner again."""
    source = {
        Bounce.Kind.HARD: Suppression.Source.BOUNCE_HARD,
        Bounce.Kind.SOFT: Suppression.Source.BOUNCE_SOFT,
        Bounce.Kind.COMPLAINT: Suppression.Source.COMPLAINT,
    }[Bounce.Kind(kind)]
    detail = " ".join(part for part in (bounce.status, bounce.diagnostic) if part)
    suppression_add(owner_id=owner_id, email=email, source=source, reason=bounce.status or kind, detail=detail)
    logger.info("bounced address suppressed: owner=%s bounce=%s source=%s", owner_id, bounce.pk, source)
