"""Reads of the mailings app. Every scoped queryset starts here, in one place per model.

`<model>s_for(user)` is what the user owns: the starting point of every write (edit, delete, send).
`<model>s_visible_to(user)` is what the user may read: their own rows, or everyone's for a manager
with the model's view_all_* permission.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
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


def stats_totals(*, user: User, owner: User | None = None) -> dict[str, int]:
    """Attempts by outcome and messages delivered / not delivered, all visible mailings (or `owner`'s) together."""
    attempts = attempts_visible_to(user)
    if owner is not None:
        attempts = attempts.filter(mailing__owner=owner)
    totals = attempts.aggregate(
        **_attempt_counts("pk", "status", distinct=False),
        # The rest of the total, so the cards add up.
        attempts_in_progress=Count("pk", filter=Q(status=Attempt.Status.IN_PROGRESS)),
        attempts_skipped=Count("pk", filter=Q(status=Attempt.Status.SKIPPED)),
        # The attempts' counters (mailings/delivery/counts.py): the deliveries table is not read. Delivered is
        # sent less what bounced since (bounces/services.py keeps `bounced_count`).
        sent=Sum("sent_count"),
        bounced=Sum("bounced_count"),
        undelivered=Sum("failed_count"),
    )
    result = {key: value or 0 for key, value in totals.items()}
    result["delivered"] = max(0, result.pop("sent") - result["bounced"])
    return result


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


_STATS_FIELDS = ("pk", "message__subject", "status", "is_enabled", "owner_id")


def stats_mailings(*, user: User, owner: User | None = None, with_owner_email: bool = False) -> QuerySet[Any]:
    """The mailings of the statistics page, in its order, as dicts without figures (`stats_mailings_fill`).

    Dicts of the shown fields rather than Mailing, Message and User instances: building three model
    instances per row was a good part of the page's cost.
    """
    mailings = mailings_visible_to(user)
    if owner is not None:
        mailings = mailings.filter(owner=owner)
    fields = (*_STATS_FIELDS, "owner__email") if with_owner_email else _STATS_FIELDS
    return mailings.order_by("-created_at", "-pk").values(*fields)


def stats_mailings_fill(mailings: list[dict[str, Any]]) -> list[MailingFigures]:
    """The figures of `stats_per_mailing` for these mailings (a page of them): one query over their attempts.

    Grouping only the page's mailings keeps the page's cost flat however many mailings, attempts and deliveries
    the account has; the attempts' counters stand for the deliveries (mailings/delivery/counts.py).
    """
    rows = (
        Attempt.objects.filter(mailing_id__in=[m["pk"] for m in mailings])
        .values("mailing_id")
        .annotate(
            **_attempt_counts("pk", "status", distinct=False),
            delivered=Coalesce(Sum("sent_count"), 0) - Coalesce(Sum("bounced_count"), 0),
            bounced=Coalesce(Sum("bounced_count"), 0),
            undelivered=Coalesce(Sum("failed_count"), 0),
        )
        .order_by()
        .values_list(
            "mailing_id",
            "attempts_total",
            "attempts_success",
            "attempts_failure",
            "delivered",
            "bounced",
            "undelivered",
        )
    )
    figures = {row[0]: row[1:] for row in rows}
    empty = (0, 0, 0, 0, 0, 0)
    result = []
    for m in mailings:
        total, success, failure, delivered, bounced, undelivered = figures.get(m["pk"], empty)
        result.append(
            MailingFigures(
                pk=m["pk"],
                subject=m["message__subject"],
                status=m["status"],
                is_enabled=m["is_enabled"],
                owner_id=m["owner_id"],
                owner_email=m.get("owner__email", ""),
                attempts_total=total,
                attempts_success=success,
                attempts_failure=failure,
                delivered=delivered,
                bounced=bounced,
                undelivered=undelivered,
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
