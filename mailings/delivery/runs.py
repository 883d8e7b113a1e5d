"""Starting a run of a mailing: one Attempt and a Delivery per recipient (docs/architecture.md, steps 2 and 5)."""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Case, Exists, F, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Lower
from django.utils import timezone

from core.data_versions import data_version_bump
from mailings.delivery.counts import attempt_counts_recount
from mailings.delivery.reasons import SUPPRESSION_SOURCE_REASONS
from mailings.delivery.tasks import enqueue_attempt_delivery
from mailings.models import Attempt, Delivery, Mailing, Recipient
from suppressions.models import Suppression

logger = logging.getLogger(__name__)


def attempt_start(
    *,
    mailing: Mailing,
    trigger: str,
    scheduled_for: datetime | None = None,
    recipient_ids: Iterable[int] | None = None,
    retry_of: Attempt | None = None,
) -> Attempt:
    """Create the attempt and snapshot its recipients into Delivery rows, then enqueue sending.

    The caller has already decided that the run may start (schedule slot won,
    owner allowed to send). The delivery task is enqueued only after the
    transaction commits, so a worker never looks for rows it cannot see yet.
    The recipients are the mailing's audience (chosen recipients and members of chosen lists, each once);
    with `recipient_ids`, only those of them.
    """
    with transaction.atomic():
        attempt = Attempt.objects.create(
            mailing=mailing,
            trigger=trigger,
            scheduled_for=scheduled_for,
            retry_of=retry_of,
            started_at=timezone.now(),
        )
        recipients = mailing.audience()
        if recipient_ids is not None:
            recipients = recipients.filter(pk__in=list(recipient_ids))
        _snapshot_deliveries(attempt=attempt, recipients=recipients)
        # Whatever states the snapshot wrote (all pending today), the counters start from the ledger.
        counts = attempt_counts_recount(attempt_id=attempt.pk)
        for column, n in counts.items():
            setattr(attempt, column, n)
        mailing_mark_running(mailing=mailing)
        transaction.on_commit(lambda: enqueue_attempt_delivery(attempt_id=attempt.pk))
        data_version_bump(owner_id=mailing.owner_id)
    logger.info(
        "run started: mailing=%s attempt=%s trigger=%s recipients=%s",
        mailing.pk,
        attempt.pk,
        trigger,
        attempt.total_count,
    )
    return attempt


def mailing_mark_running(*, mailing: Mailing) -> None:
    """The mailing becomes Запущена: when its first run starts (whoever starts it), and only then."""
    Mailing.objects.filter(pk=mailing.pk).exclude(status=Mailing.Status.RUNNING).update(status=Mailing.Status.RUNNING)
    mailing.status = Mailing.Status.RUNNING


# Copied from the recipient into its delivery; every other column gets the field's default, except the
# columns saying that a suppressed address is skipped («отписался», or why the address is on the list).
_FROM_RECIPIENT = {"recipient": "pk", "email": "email", "full_name": "full_name"}
_SUPPRESSED = {"state", "reason", "finished_at"}


def _snapshot_deliveries(*, attempt: Attempt, recipients: QuerySet[Recipient]) -> int:
    """One INSERT ... SELECT of a Delivery per recipient, in recipient id order; returns how many.

    The database copies the rows itself: building 10,000 model instances for bulk_create took a
    second, longer than sending them to a fast server.
    """
    columns: list[str] = []
    select: dict[str, object] = {}
    # The owner's suppression list, matched in the same statement over its (owner, email_key) index. SQLite's
    # LOWER folds ASCII only: a non-ASCII address differing in case is still caught by the engine's per-batch
    # check (which lowercases in Python) and skipped with the same reason.
    any_suppressed = Suppression.objects.filter(owner_id=attempt.mailing.owner_id).exists()
    suppressed = Exists(
        Suppression.objects.filter(owner_id=attempt.mailing.owner_id, email_key=Lower(OuterRef("email")))
    )
    now = timezone.now()
    if any_suppressed:
        # The suppression's source says the skipped delivery's reason («отписался», or a bounce, a complaint, the
        # owner: reasons.suppression_reason_code); an alias, so it is not selected itself.
        recipients = recipients.alias(
            snapshot_suppression_source=Subquery(
                Suppression.objects.filter(
                    owner_id=attempt.mailing.owner_id, email_key=Lower(OuterRef("email"))
                ).values("source")[:1]
            )
        )
    codes: dict[str, list[str]] = {}
    for suppression_source, code in SUPPRESSION_SOURCE_REASONS.items():
        codes.setdefault(code, []).append(suppression_source)
    for field in Delivery._meta.concrete_fields:
        if field.primary_key:
            continue
        assert field.column is not None  # a concrete field always has its column
        columns.append(connection.ops.quote_name(field.column))
        alias = f"snapshot_{field.column}"
        if field.name == "attempt":
            select[alias] = Value(attempt.pk, output_field=Delivery.attempt.field.target_field)
        elif field.name in _FROM_RECIPIENT:
            select[alias] = F(_FROM_RECIPIENT[field.name])
        elif field.name == "reason" and any_suppressed:
            select[alias] = Case(
                *[
                    When(snapshot_suppression_source__in=sources, then=Value(code, output_field=field))
                    for code, sources in codes.items()
                ],
                When(suppressed, then=Value("unsubscribed", output_field=field)),
                default=Value(field.get_default(), output_field=field),
                output_field=field,
            )
        elif field.name in _SUPPRESSED and any_suppressed:
            value = {"state": Delivery.State.SKIPPED, "finished_at": now}[field.name]
            select[alias] = Case(
                When(suppressed, then=Value(value, output_field=field)),
                default=Value(field.get_default(), output_field=field),
                output_field=field,
            )
        elif (
            (field.has_default() and callable(field.default))
            or getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
        ):
            # One value for every row would be wrong (a uuid4, a timestamp): copy it from somewhere instead.
            raise ImproperlyConfigured(f"Delivery.{field.name} has a per-row default; the run snapshot cannot fill it")
        else:
            select[alias] = Value(field.get_default(), output_field=field)
    source = recipients.order_by().annotate(**select).values_list(*select).order_by("pk")
    sql, params = source.query.sql_with_params()
    table = connection.ops.quote_name(Delivery._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) {sql}", params)
        return int(cursor.rowcount)
