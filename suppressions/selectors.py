"""Reads of the suppression list, scoped to the user in one place."""

from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Lower

from mailings.selectors import _text_search
from suppressions.models import Suppression, SuppressionLift
from users.models import User


def can_view_all_suppressions(user: User) -> bool:
    return user.has_perm("suppressions.view_all_suppressions")


def suppressions_for(user: User) -> QuerySet[Suppression]:
    return Suppression.objects.filter(owner=user)


def suppressions_visible_to(user: User) -> QuerySet[Suppression]:
    return Suppression.objects.all() if can_view_all_suppressions(user) else suppressions_for(user)


def suppression_list(*, user: User, query: str = "", owner: User | None = None) -> QuerySet[Suppression]:
    qs = suppressions_visible_to(user).select_related("owner")
    if owner is not None:
        qs = qs.filter(owner=owner)
    if query:
        qs = qs.filter(_text_search(query, "email", "reason"))
    return qs.order_by("-created_at", "-pk")


def lifts_visible_to(user: User) -> QuerySet[SuppressionLift]:
    qs = (
        SuppressionLift.objects.all() if can_view_all_suppressions(user) else SuppressionLift.objects.filter(owner=user)
    )
    return qs.select_related("owner", "lifted_by")


def suppressed_flag() -> Exists:
    """For a Recipient queryset's `annotate`: is the recipient's address on its owner's suppression list."""
    return Exists(Suppression.objects.filter(owner_id=OuterRef("owner_id"), email_key=Lower(OuterRef("email"))))
