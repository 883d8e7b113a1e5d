"""Reads of bounce mailboxes and bounces: every scoped queryset of them starts here."""

from django.db.models import QuerySet

from bounces.models import Bounce, BounceMailbox
from users.models import User


def can_view_all_bounce_mailboxes(user: User) -> bool:
    return user.has_perm("bounces.view_all_bounce_mailboxes")


def bounce_mailboxes_visible_to(user: User) -> QuerySet[BounceMailbox]:
    mailboxes = BounceMailbox.objects.select_related("owner")
    return mailboxes if can_view_all_bounce_mailboxes(user) else mailboxes.filter(owner=user)


def bounces_recent(*, owner_id: int, limit: int = 50) -> QuerySet[Bounce]:
    return (
        Bounce.objects.filter(owner_id=owner_id)
        .select_related("delivery__attempt")
        .order_by("-received_at", "-pk")[:limit]
    )
