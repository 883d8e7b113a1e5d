"""Reads of the mailings app. Every scoped queryset starts here, in one place per model.

`<model>s_for(user)` is what the user owns: the starting point of every write (edit, delete, send).
`<model>s_visible_to(user)` is what the user may read: their own rows, or everyone's for a manager
with the model's view_all_* permission.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import overload

from django.db import connection
from django.db.models import Count, Field, Model, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Lower
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.params import parse_id
from mailings.delivery.counts import attempt_state_counts
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from users.models import User

logger = logging.getLogger(__name__)


def recipients_for(user: User) -> QuerySet[Recipient]:
    return Recipient.objects.filter(owner=user)


def messages_for(user: User) -> QuerySet[Message]:
    return Message.objects.filter(owner=user)


def mailings_for(user: User) -> QuerySet[Mailing]:
    return Mailing.objects.filter(owner=user)


def attempts_for(user: User) -> QuerySet[Attempt]:
    return Attempt.objects.filter(mailing__owner=user)


def deliveries_for(user: User) -> QuerySet[Delivery]:
    return Delivery.objects.filter(attempt__mailing__owner=user)


def can_view_all_recipients(user: User) -> bool:
    return user.has_perm("mailings.view_all_recipients")


def can_view_all_messages(user: User) -> bool:
    return user.has_perm("mailings.view_all_messages")


def can_view_all_mailings(user: User) -> bool:
    """Also covers the mailings' attempts and deliveries (the statistics)."""
    return user.has_perm("mailings.view_all_mailings")


def recipients_visible_to(user: User) -> QuerySet[Recipient]:
    return Recipient.objects.all() if can_view_all_recipients(user) else recipients_for(user)


def messages_visible_to(user: User) -> QuerySet[Message]:
    return Message.objects.all() if can_view_all_messages(user) else messages_for(user)


def mailings_visible_to(user: User) -> QuerySet[Mailing]:
    return Mailing.objects.all() if can_view_all_mailings(user) else mailings_for(user)


def attempts_visible_to(user: User) -> QuerySet[Attempt]:
    return Attempt.objects.all() if can_view_all_mailings(user) else attempts_for(user)


def deliveries_visible_to(user: User) -> QuerySet[Delivery]:
    return Delivery.objects.all() if can_view_all_mailings(user) else deliveries_for(user)


def _text_search(query: str, *fields: str) -> Q:
    """`icontains` on any of `fields`, also for Cyrillic on SQLite.

    SQLite's LIKE folds only ASCII letters, so «весна» would not find «Весна»;
    trying the lower, capitalised and upper spellings covers what people type.
    PostgreSQL folds Unicode itself, and the extra variants cost it nothing.
    """
    variants = {query, query.lower(), query.capitalize(), query.upper()}
    condition = Q()
    for field in fields:
        for variant in variants:
            condition |= Q(**{f"{field}__icontains": variant})
    return condition


def recipient_list(*, user: User, query: str = "", owner: User | None = None) -> QuerySet[Recipient]:
    qs = recipients_visible_to(user).select_related("owner")
    if owner is not None:
        qs = qs.filter(owner=owner)
    if query:
        qs = qs.filter(_text_search(query, "email", "full_name", "comment"))
    return qs.order_by("email", "pk")


def message_list(*, user: User, query: str = "", owner: User | None = None) -> QuerySet[Message]:
    qs = messages_visible_to(user).select_related("owner")
    if owner is not None:
        qs = qs.filter(owner=owner)
    if query:
        qs = qs.filter(_text_search(query, "subject", "body"))
    return qs.annotate(mailing_count=Count("mailings")).order_by("-created_at", "-pk")


def mailing_list(*, user: User, query: str = "", owner: User | None = None) -> QuerySet[Mailing]:
    qs = mailings_visible_to(user).select_related("message", "owner")
    if owner is not None:
        qs = qs.filter(owner=owner)
    if query:
        condition = _text_search(query, "message__subject")
        if (mailing_id := parse_id(query)) is not None:
            condition |= Q(pk=mailing_id)
        qs = qs.filter(condition)
    # A subquery, not a second join: two many-to-many joins would multiply each other's rows.
    lists = (
        Mailing.lists.through.objects.filter(mailing_id=OuterRef("pk"))
        .order_by()
        .values("mailing_id")
        .annotate(n=Count("pk"))
        .values("n")  # type: ignore[misc]  # django-stubs does not see the annotation on the through model
    )
    return qs.annotate(recipient_count=Count("recipients"), list_count=Subquery(lists)).order_by("-created_at", "-pk")


def mailing_choices_for(user: User) -> QuerySet[Mailing]:
    """Mailings for a choice list: their labels show the message subject, fetched in the same query."""
    return mailings_visible_to(user).select_related("message").order_by("-created_at", "-pk")


def attempt_list(
    *, user: User, mailing: Mailing | None = None, status: str = "", owner: User | None = None
) -> QuerySet[Attempt]:
    qs = attempts_visible_to(user).select_related("mailing__message", "mailing__owner")
    if owner is not None:
        qs = qs.filter(mailing__owner=owner)
    if mailing is not None:
        qs = qs.filter(mailing=mailing)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-started_at", "-pk")


def attempt_deliveries(*, attempt: Attempt) -> QuerySet[Delivery]:
    return attempt.deliveries.order_by("pk")


def delivery_state_counts(*, attempt: Attempt) -> list[tuple[str, str | Promise, int]]:
    """(state, label, count) for each state the attempt's deliveries are in, in the states' order.

    From the attempt's counters (mailings/delivery/counts.py): the same row as its summary, so they agree. Sent
    deliveries that bounced since are shown apart (`bounced_count`, kept by bounces/services.py), and «sent» reads
    «Принято сервером» while a bounce may still come.
    """
    counts = attempt_state_counts(attempt)
    bounced = min(attempt.bounced_count, counts.get(Delivery.State.SENT, 0))
    result: list[tuple[str, str | Promise, int]] = []
    for state, label in Delivery.State.choices:
        if state not in counts:
            continue
        if state == Delivery.State.SENT:
            if attempt.bounce_still_possible:
                label = _("Принято сервером")
            if counts[state] - bounced or not bounced:
                result.append((state, label, counts[state] - bounced))
            if bounced:
                result.append(("bounced", _("Возврат"), bounced))
            continue
        result.append((state, label, counts[state]))
    return result


def _attempt_counts(attempt: str, status: str, *, distinct: bool) -> dict[str, Count]:
    """Attempts in all, successful and failed; `attempt` and `status` are the lookups from the queried model."""
    return {
        "attempts_total": Count(attempt, distinct=distinct),
        "attempts_success": Count(attempt, filter=Q(**{status: Attempt.Status.SUCCESS}), distinct=distinct),
        "attempts_failure": Count(attempt, filter=Q(**{status: Attempt.Status.FAILURE}), distinct=distinct),
    }


def _stats_sql(*, per_mailing: int = 0, owner_conditions: int = 0) -> str:
    """The attempts' figures in one SELECT, written out rather than built by the ORM on every request.

    The statistics page runs these on every uncached request, and building the equivalent aggregates (five
    filtered counts and three sums) cost the ORM about twice what the database took to answer them (issue 21,
    "Reports at scale"). Parameters: the four `_STATUSES`, then `per_mailing` mailing ids or `owner_conditions`
    owner ids. Columns: the mailing's shown fields (id, subject, status, enabled, owner id and email) with
    `per_mailing`, then total, success, failure, in progress, skipped, sent, bounced, failed.
    """
    return _stats_sql_cached(connection.vendor, per_mailing, owner_conditions)


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field) and field.column
    return connection.ops.quote_name(field.column)


@lru_cache(maxsize=64)
def _stats_sql_cached(vendor: str, per_mailing: int, owner_conditions: int) -> str:
    q, column = connection.ops.quote_name, _column
    status = column(Attempt, "status")
    figures = ", ".join(
        [
            f"COUNT(a.{column(Attempt, 'id')})",
            *(f"COUNT(CASE WHEN a.{status} = %s THEN 1 END)" for _ in range(4)),
            *(
                f"COALESCE(SUM(a.{column(Attempt, name)}), 0)"
                for name in ("sent_count", "bounced_count", "failed_count")
            ),
        ]
    )
    attempt, mailing = q(str(Attempt._meta.db_table)), q(str(Mailing._meta.db_table))
    on_mailing = f"m.{column(Mailing, 'id')} = a.{column(Attempt, 'mailing')}"
    if per_mailing:
        fields = ", ".join(
            [
                f"m.{column(Mailing, 'id')}",
                f"msg.{column(Message, 'subject')}",
                f"m.{column(Mailing, 'status')}",
                f"m.{column(Mailing, 'is_enabled')}",
                f"m.{column(Mailing, 'owner')}",
                f"u.{column(User, 'email')}",
            ]
        )
        marks = ", ".join(["%s"] * per_mailing)
        return (
            f"SELECT {fields}, {figures} FROM {mailing} m "
            f"INNER JOIN {q(str(Message._meta.db_table))} msg "
            f"ON msg.{column(Message, 'id')} = m.{column(Mailing, 'message')} "
            f"INNER JOIN {q(str(User._meta.db_table))} u ON u.{column(User, 'id')} = m.{column(Mailing, 'owner')} "
            f"LEFT JOIN {attempt} a ON {on_mailing} "
            f"WHERE m.{column(Mailing, 'id')} IN ({marks}) GROUP BY {fields}"
        )
    if not owner_conditions:
        return f"SELECT {figures} FROM {attempt} a"
    where = " AND ".join([f"m.{column(Mailing, 'owner')} = %s"] * owner_conditions)
    return f"SELECT {figures} FROM {attempt} a INNER JOIN {mailing} m ON {on_mailing} WHERE {where}"


def _stats_owners(*, user: User, owner: User | None) -> list[int]:
    """The owner conditions of the statistics' SQL: `mailings_visible_to(user)`, then `owner`'s, as owner ids.

    Every id must match (none: everyone's); a plain user's own id and another owner's match nothing.
    """
    owners = [] if can_view_all_mailings(user) else [user.pk]
    if owner is not None:
        owners.append(owner.pk)
    return owners


_STATUSES = [Attempt.Status.SUCCESS, Attempt.Status.FAILURE, Attempt.Status.IN_PROGRESS, Attempt.Status.SKIPPED]


def stats_totals(*, user: User, owner: User | None = None) -> dict[str, int]:
    """Attempts by outcome and messages delivered / not delivered, all visible mailings (or `owner`'s) together.

    From the attempts' counters (mailings/delivery/counts.py): the deliveries table is not read. Delivered
    is sent less what bounced since (bounces/services.py keeps `bounced_count`); in progress and skipped
    are the rest of the total, so the cards add up.
    """
    owners = _stats_owners(user=user, owner=owner)
    with connection.cursor() as cursor:
        cursor.execute(_stats_sql(owner_conditions=len(owners)), [*_STATUSES, *owners])
        row = cursor.fetchone()
    total, success, failure, in_progress, skipped, sent, bounced, failed = (int(value or 0) for value in row)
    return {
        "attempts_total": total,
        "attempts_success": success,
        "attempts_failure": failure,
        "attempts_in_progress": in_progress,
        "attempts_skipped": skipped,
        "bounced": bounced,
        "undelivered": failed,
        "delivered": max(0, sent - bounced),
    }


def stats_per_mailing(*, user: User, owner: User | None = None) -> QuerySet[Mailing]:
    """The same figures per mailing, as annotations (one query, whatever the number of mailings)."""
    mailings = mailings_visible_to(user)
    if owner is not None:
        mailings = mailings.filter(owner=owner)
    return (
        mailings.select_related("message", "owner")
        .annotate(
            # From the attempts' counters: the deliveries table is not read.
            **_attempt_counts("attempts", "attempts__status", distinct=False),
            delivered=Coalesce(Sum("attempts__sent_count"), 0) - Coalesce(Sum("attempts__bounced_count"), 0),
            bounced=Coalesce(Sum("attempts__bounced_count"), 0),
            undelivered=Coalesce(Sum("attempts__failed_count"), 0),
        )
        .order_by("-created_at", "-pk")
    )


@dataclass(slots=True)
class MailingFigures:
    """One row of the statistics page: the few fields it shows of a mailing, and the mailing's figures."""

    pk: int
    subject: str
    status: str
    is_enabled: bool
    owner_id: int
    owner_email: str = ""
    attempts_total: int = 0
    attempts_success: int = 0
    attempts_failure: int = 0
    delivered: int = 0
    bounced: int = 0
    undelivered: int = 0

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"  # as Mailing.__str__


class StatsMailings(Sequence[int]):
    """The ids of the statistics page's mailings, newest first, for a Paginator: a count and a slice.

    Two written-out SELECTs (`mailing_owner_created_idx` gives an owner's page from the index): the ORM took
    longer to build the count and the page's query than the database took to answer them (issue 21).
    """

    def __init__(self, *, owners: list[int]) -> None:
        where = " AND ".join([f"{_column(Mailing, 'owner')} = %s"] * len(owners))
        self._from = f"FROM {connection.ops.quote_name(str(Mailing._meta.db_table))}" + (
            f" WHERE {where}" if owners else ""
        )
        self._owners = owners

    def count(self) -> int:  # type: ignore[override]  # Paginator calls count() rather than len()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) {self._from}", self._owners)
            return int(cursor.fetchone()[0])

    def __len__(self) -> int:
        return self.count()

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        start, stop = index.start or 0, index.stop
        assert stop is not None and stop >= start and index.step is None
        order = f"{_column(Mailing, 'created_at')} DESC, {_column(Mailing, 'id')} DESC"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {_column(Mailing, 'id')} {self._from} ORDER BY {order} LIMIT %s OFFSET %s",
                [*self._owners, stop - start, start],
            )
            return [row[0] for row in cursor.fetchall()]


def stats_mailings(*, user: User, owner: User | None = None) -> StatsMailings:
    """The ids of the statistics page's mailings, in its order (`stats_mailings_fill` gives a page's rows)."""
    return StatsMailings(owners=_stats_owners(user=user, owner=owner))


def stats_mailings_fill(ids: list[int]) -> list[MailingFigures]:
    """These mailings (a page of them, in this order) with the figures of `stats_per_mailing`: one query.

    Grouping only the page's mailings keeps the page's cost flat however many mailings, attempts and deliveries
    the account has; the attempts' counters stand for the deliveries (mailings/delivery/counts.py).
    """
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_stats_sql(per_mailing=len(ids)), [*_STATUSES, *ids])
        rows = {row[0]: row for row in cursor.fetchall()}
    result = []
    for pk in ids:
        _pk, subject, status, enabled, owner_id, email, total, success, failure, _run, _skip, sent, bounced, failed = (
            rows[pk]
        )
        result.append(
            MailingFigures(
                pk=pk,
                subject=subject,
                status=status,
                is_enabled=bool(enabled),
                owner_id=owner_id,
                owner_email=email,
                attempts_total=total,
                attempts_success=success,
                attempts_failure=failure,
                delivered=sent - bounced,
                bounced=bounced,
                undelivered=failed,
            )
        )
    return result


def home_figures(*, user: User | None) -> dict[str, int]:
    """Total and active mailings and unique recipient addresses: the user's, or service-wide for None.

    A manager passes None: the figures that matter to them are the service's, not their own (none).
    Active means running and able to send: a mailing a manager disabled, or whose owner is blocked, is not.
    """
    mailings = Mailing.objects.all() if user is None else mailings_for(user)
    recipients = Recipient.objects.all() if user is None else recipients_for(user)
    active = Q(status=Mailing.Status.RUNNING, is_enabled=True, owner__is_active=True)
    figures = mailings.aggregate(mailings_total=Count("pk"), mailings_active=Count("pk", filter=active))
    figures.update(recipients.aggregate(recipients_unique=Count(Lower("email"), distinct=True)))
    return {key: value or 0 for key, value in figures.items()}
