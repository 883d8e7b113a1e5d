"""Reads of the audience app: lists, imports, the recipient picker and the audience count.

As in mailings.selectors: `<model>s_for(user)` is what the user owns (the start of every write),
`<model>s_visible_to(user)` what the user may read (everyone's for a manager).
"""

import logging
from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet

from audience.models import Import, List
from mailings import selectors as mailing_selectors
from mailings.models import Mailing, Recipient
from users.models import User

logger = logging.getLogger(__name__)

PICKER_PAGE = 20


def can_view_all_lists(user: User) -> bool:
    """Also covers imports and exports of everyone's data."""
    return user.has_perm("audience.view_all_lists")


def lists_for(user: User) -> QuerySet[List]:
    return List.objects.filter(owner=user)


def lists_visible_to(user: User) -> QuerySet[List]:
    return List.objects.all() if can_view_all_lists(user) else lists_for(user)


def imports_for(user: User) -> QuerySet[Import]:
    return Import.objects.filter(owner=user)


def imports_visible_to(user: User) -> QuerySet[Import]:
    return Import.objects.all() if can_view_all_lists(user) else imports_for(user)


def list_list(*, user: User, owner: User | None = None) -> QuerySet[List]:
    qs = lists_visible_to(user).select_related("owner")
    if owner is not None:
        qs = qs.filter(owner=owner)
    return qs.annotate(member_count=Count("members")).order_by("name", "pk")


def list_choices_for(user: User) -> QuerySet[List]:
    return lists_for(user).order_by("name", "pk")


def list_members(*, recipient_list: List, query: str = "") -> QuerySet[Recipient]:
    owner = recipient_list.owner
    return mailing_selectors.recipient_list(user=owner, query=query, owner=owner).filter(lists=recipient_list)


def recipients_by_filter(*, owner: User, query: str) -> QuerySet[Recipient]:
    """The owner's recipients that the recipient list page shows for this search (all pages of it)."""
    return mailing_selectors.recipient_list(user=owner, query=query, owner=owner)


def picker_search(
    *, owner: User, query: str, page: int, mailing: Mailing | None = None
) -> tuple[list[dict[str, object]], bool]:
    """A page of the owner's recipients matching `query` for the picker, and whether there are more.

    With `mailing`, only its individually chosen recipients (the edit form's paged list).
    """
    qs = mailing_selectors.recipient_list(user=owner, query=query, owner=owner)
    if mailing is not None:
        qs = qs.filter(mailings=mailing)
    start = (max(page, 1) - 1) * PICKER_PAGE
    rows = list(qs.values("pk", "email", "full_name")[start : start + PICKER_PAGE + 1])
    results = [{"id": r["pk"], "email": r["email"], "full_name": r["full_name"]} for r in rows[:PICKER_PAGE]]
    return results, len(rows) > PICKER_PAGE


def audience_count(
    *,
    owner: User,
    all_recipients: bool,
    list_ids: Iterable[int],
    added_ids: Iterable[int],
    removed_ids: Iterable[int] = (),
    mailing: Mailing | None = None,
    clear_chosen: bool = False,
) -> int:
    """Unique addresses a mailing would go to with these choices (the form's live count).

    The same union as Mailing.audience(): recipient emails are unique per owner, so recipients count addresses.
    """
    mine = mailing_selectors.recipients_for(owner)
    if all_recipients:
        return mine.count()
    condition = Q(pk__in=list(added_ids))
    list_ids = list(list_ids)
    if list_ids:
        members = List.members.through.objects.filter(list_id__in=lists_for(owner).filter(pk__in=list_ids))
        condition |= Q(pk__in=members.values("recipient_id"))
    if mailing is not None and not clear_chosen:
        chosen = Mailing.recipients.through.objects.filter(mailing_id=mailing.pk).exclude(
            recipient_id__in=list(removed_ids)
        )
        condition |= Q(pk__in=chosen.values("recipient_id"))
    return mine.filter(condition).count()
