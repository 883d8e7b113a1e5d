"""Reads of the mailings app. Every scoped queryset starts here, in one place per model.

`<model>s_for(user)` is what the user owns: the starting point of every write (edit, delete, send).
`<model>s_visible_to(user)` is what the user may read: their own rows, or everyone's for a manager
with the model's view_all_* permission.
"""

import logging

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower
from django.utils.functional import Promise

from core.params import parse_id
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
    from suppressions.selectors import suppressed_flag  # suppressions reads this module: imported on use

    qs = recipients_visible_to(user).select_related("owner").annotate(is_suppressed=suppressed_flag())
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
    """(state, label, count) for each state the attempt's deliveries are in, in the states' order (one query)."""
    rows = attempt.deliveries.order_by().values("state").annotate(n=Count("pk"))
    counts = {row["state"]: row["n"] for row in rows}
    return [(state, label, counts[state]) for state, label in Delivery.State.choices if state in counts]


def _attempt_counts(attempt: str, status: str, *, distinct: bool) -> dict[str, Count]:
    """Attempts in all, successful and failed; `attempt` and `status` are the lookups from the queried model."""
    return {
        "attempts_total": Count(attempt, distinct=distinct),
        "attempts_success": Count(attempt, filter=Q(**{status: Attempt.Status.SUCCESS}), distinct=distinct),
        "attempts_failure": Count(attempt, filter=Q(**{status: Attempt.Status.FAILURE}), distinct=distinct),
    }


def stats_totals(*, user: User, owner: User | None = None) -> dict[str, int]:
    """Attempts by outcome and messages delivered / not delivered, all visible mailings (or `owner`'s) together."""
    attempts, deliveries = attempts_visible_to(user), deliveries_visible_to(user)
    if owner is not None:
        attempts, deliveries = attempts.filter(mailing__owner=owner), deliveries.filter(attempt__mailing__owner=owner)
    totals = attempts.aggregate(
        **_attempt_counts("pk", "status", distinct=False),
        # The rest of the total, so the cards add up.
        attempts_in_progress=Count("pk", filter=Q(status=Attempt.Status.IN_PROGRESS)),
        attempts_skipped=Count("pk", filter=Q(status=Attempt.Status.SKIPPED)),
    )
    totals.update(
        deliveries.aggregate(
            delivered=Count("pk", filter=Q(state=Delivery.State.SENT)),
            undelivered=Count("pk", filter=Q(state=Delivery.State.FAILED)),
        )
    )
    return {key: value or 0 for key, value in totals.items()}


def stats_per_mailing(*, user: User, owner: User | None = None) -> QuerySet[Mailing]:
    """The same figures per mailing, as annotations (one query, whatever the number of mailings)."""
    mailings = mailings_visible_to(user)
    if owner is not None:
        mailings = mailings.filter(owner=owner)
    return (
        mailings.select_related("message", "owner")
        .annotate(
            # The join with deliveries repeats each attempt once per delivery: count attempts distinct.
            **_attempt_counts("attempts", "attempts__status", distinct=True),
            delivered=Count("attempts__deliveries", filter=Q(attempts__deliveries__state=Delivery.State.SENT)),
            undelivered=Count("attempts__deliveries", filter=Q(attempts__deliveries__state=Delivery.State.FAILED)),
        )
        .order_by("-created_at", "-pk")
    )


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
