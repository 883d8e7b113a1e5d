"""Reads of SMTP accounts: every scoped queryset of them starts here."""

from django.db.models import Count, QuerySet

from senders.models import SmtpAccount
from users.models import User


def smtp_accounts_for(user: User) -> QuerySet[SmtpAccount]:
    """The user's own accounts: the start of every write and of a mailing's choice."""
    return SmtpAccount.objects.filter(owner=user)


def can_view_all_smtp_accounts(user: User) -> bool:
    return user.has_perm("senders.view_all_smtp_accounts")


def smtp_accounts_visible_to(user: User) -> QuerySet[SmtpAccount]:
    return SmtpAccount.objects.all() if can_view_all_smtp_accounts(user) else smtp_accounts_for(user)


def smtp_account_list(*, user: User) -> QuerySet[SmtpAccount]:
    return (
        smtp_accounts_visible_to(user)
        .select_related("owner")
        .annotate(mailing_count=Count("mailings"))
        .order_by("owner__email", "name", "pk")
    )
