"""Writes of lists (Списки). The owner always comes from the signed-in user, never from a form."""

import logging

from django.db import connection, transaction
from django.db.models import F, QuerySet, Value

from audience.models import List
from core.data_versions import data_version_bump
from mailings.models import Recipient
from users.models import User

logger = logging.getLogger(__name__)


def list_create(*, owner: User, name: str) -> List:
    recipient_list = List(owner=owner, name=name.strip())
    # A savepoint, so a duplicate caught by the database leaves the caller's transaction usable.
    with transaction.atomic():
        recipient_list.save()
    data_version_bump(owner_id=owner.pk)
    logger.info("list created: owner=%s list=%s", owner.pk, recipient_list.pk)
    return recipient_list


def list_rename(*, recipient_list: List, name: str) -> List:
    recipient_list.name = name.strip()
    with transaction.atomic():
        recipient_list.save(update_fields=["name", "updated_at"])
    data_version_bump(owner_id=recipient_list.owner_id)
    logger.info("list renamed: list=%s", recipient_list.pk)
    return recipient_list


def list_delete(*, recipient_list: List) -> None:
    """Delete the list; its recipients stay, mailings that chose it lose it."""
    pk = recipient_list.pk
    recipient_list.delete()
    data_version_bump(owner_id=recipient_list.owner_id)
    logger.info("list deleted: list=%s", pk)


def list_members_add(*, recipient_list: List, recipients: QuerySet[Recipient]) -> int:
    """Add every recipient of `recipients` (of the list's owner) that is not a member yet; returns how many.

    One INSERT ... SELECT: "add these 3,412 to the list" never loads them into Python.
    """
    through = List.members.through
    source = (
        recipients.filter(owner_id=recipient_list.owner_id)
        .exclude(pk__in=through.objects.filter(list_id=recipient_list.pk).values("recipient_id"))
        .order_by()
        .annotate(member_list=Value(recipient_list.pk), member_recipient=F("pk"))
        .values_list("member_list", "member_recipient")
    )
    sql, params = source.query.sql_with_params()
    q = connection.ops.quote_name
    columns = f"{q(through._meta.get_field('list').column)}, {q(through._meta.get_field('recipient').column)}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {q(through._meta.db_table)} ({columns}) {sql}", params)
        added = max(int(cursor.rowcount), 0)
        if added:
            data_version_bump(owner_id=recipient_list.owner_id)
    logger.info("list members added: list=%s added=%s", recipient_list.pk, added)
    return added


def list_members_remove(*, recipient_list: List, recipients: QuerySet[Recipient]) -> int:
    """Remove every recipient of `recipients` from the list; returns how many were members."""
    through = List.members.through
    removed, _ = through.objects.filter(
        list_id=recipient_list.pk, recipient_id__in=recipients.order_by().values("pk")
    ).delete()
    if removed:
        data_version_bump(owner_id=recipient_list.owner_id)
    logger.info("list members removed: list=%s removed=%s", recipient_list.pk, removed)
    return removed
