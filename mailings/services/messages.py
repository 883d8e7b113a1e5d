"""Writes of messages (Сообщения)."""

import logging

from django.db import transaction
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


def message_create(*, owner: User, subject: str, body: str, format: str = Message.Format.PLAIN) -> Message:
    message = Message(owner=owner, subject=subject, body=body, format=format)
    message.save()
    data_version_bump(owner_id=owner.pk)
    logger.info("message created: owner=%s message=%s", owner.pk, message.pk)
    return message


def message_update(*, message: Message, subject: str, body: str, format: str | None = None) -> Message:
    message.subject = subject
    message.body = body
    if format is not None:
        message.format = format
    message.save(update_fields=["subject", "body", "format", "updated_at"])
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


def message_test_send(*, message: Message, user: User) -> str:
    """Queue a test send of the user's own message to their confirmed address; returns that address.

    Raises TrialRefused (unconfirmed address, or the rate limit). The message goes out from a worker.
    """
    from mailings.delivery.tasks import send_test_message
    from mailings.delivery.trial import trial_rate_take, trial_recipient

    address = trial_recipient(user)
    trial_rate_take(user_id=user.pk)
    message_id, user_id = message.pk, user.pk
    transaction.on_commit(lambda: send_test_message.enqueue(message_id, user_id))
    logger.info("test send queued: message=%s user=%s", message_id, user_id)
    return address
