"""Writes of messages (Сообщения)."""

import logging

from django.db.models import ProtectedError

from core.data_versions import data_version_bump
from mailings.models import Message
from users.models import User

logger = logging.getLogger(__name__)


class MessageInUse(Exception):
    """The message is used by mailings (Mailing.message is PROTECT)."""

    def __init__(self, mailing_count: int) -> None:
        super().__init__(f"message is used by {mailing_count} mailing(s)")
        self.mailing_count = mailing_count


def message_create(*, owner: User, subject: str, body: str) -> Message:
    message = Message(owner=owner, subject=subject, body=body)
    message.save()
    data_version_bump(owner_id=owner.pk)
    logger.info("message created: owner=%s message=%s", owner.pk, message.pk)
    return message


def message_update(*, message: Message, subject: str, body: str) -> Message:
    message.subject = subject
    message.body = body
    message.save(update_fields=["subject", "body", "updated_at"])
    data_version_bump(owner_id=message.owner_id)
    logger.info("message updated: message=%s", message.pk)
    return message


def message_delete(*, message: Message) -> None:
    """Delete the message, or raise MessageInUse if a mailing still sends it."""
    pk = message.pk
    try:
        message.delete()
    except ProtectedError as exc:
        raise MessageInUse(len(exc.protected_objects)) from exc
    data_version_bump(owner_id=message.owner_id)
    logger.info("message deleted: message=%s", pk)
