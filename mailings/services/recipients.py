"""Writes of recipients (Получатели). The owner always comes from the signed-in user, never from a form."""

import logging

from django.db import transaction

from core.data_versions import data_version_bump
from mailings.models import Recipient
from users.models import User

logger = logging.getLogger(__name__)


def recipient_create(*, owner: User, email: str, full_name: str, comment: str = "") -> Recipient:
    recipient = Recipient(owner=owner, email=email, full_name=full_name, comment=comment)
    # A savepoint, so a duplicate caught by the database leaves the caller's transaction usable.
    with transaction.atomic():
        recipient.save()
    data_version_bump(owner_id=owner.pk)
    logger.info("recipient created: owner=%s recipient=%s", owner.pk, recipient.pk)
    return recipient


def recipient_update(*, recipient: Recipient, email: str, full_name: str, comment: str = "") -> Recipient:
    recipient.email = email
    recipient.full_name = full_name
    recipient.comment = comment
    with transaction.atomic():
        recipient.save(update_fields=["email", "full_name", "comment", "updated_at"])
    data_version_bump(owner_id=recipient.owner_id)
    logger.info("recipient updated: recipient=%s", recipient.pk)
    return recipient


def recipient_delete(*, recipient: Recipient) -> None:
    """Delete the recipient; past deliveries keep the email snapshot, mailings lose the recipient."""
    pk = recipient.pk
    recipient.delete()
    data_version_bump(owner_id=recipient.owner_id)
    logger.info("recipient deleted: recipient=%s", pk)
