"""Reads of the users app for managers: the users list and the audit log."""

import logging

from django.db.models import Count, Q, QuerySet

from users.models import AuditEvent, User, UserState

logger = logging.getLogger(__name__)


def can_view_all_users(user: User) -> bool:
    return user.has_perm("users.view_all_users")


def users_visible_to(user: User) -> QuerySet[User]:
    """Every account for a manager; otherwise only one's own (someone else's id is a 404)."""
    return User.objects.all() if can_view_all_users(user) else User.objects.filter(pk=user.pk)


_STATE_FILTERS: dict[str, Q] = {
    UserState.ACTIVE: Q(is_active=True, blocked_at__isnull=True),
    UserState.UNCONFIRMED: Q(email_confirmed_at__isnull=True, blocked_at__isnull=True),
    UserState.BLOCKED: Q(blocked_at__isnull=False),
    UserState.INACTIVE: Q(is_active=False, email_confirmed_at__isnull=False, blocked_at__isnull=True),
}


def user_list(*, user: User, query: str = "", state: str = "") -> QuerySet[User]:
    """Accounts for the managers' users page, with who blocked them and their number of mailings (one query)."""
    qs = users_visible_to(user).select_related("blocked_by")
    if query:
        qs = qs.filter(Q(email__icontains=query) | Q(first_name__icontains=query) | Q(last_name__icontains=query))
    if state in _STATE_FILTERS:
        qs = qs.filter(_STATE_FILTERS[state])
    return qs.annotate(mailing_count=Count("mailings")).order_by("email", "pk")


def audit_event_list(*, action: str = "") -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.select_related("actor", "target_user")
    if action:
        qs = qs.filter(action=action)
    return qs.order_by("-created_at", "-pk")
