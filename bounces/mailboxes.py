"""Writes of an owner's bounce mailbox: its settings (the password encrypted here, once) and «Проверить ящик»."""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from bounces.models import BounceMailbox
from core.data_versions import data_version_bump
from senders.crypto import password_encrypt
from users.models import User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailboxSettings:
    """What the owner sets on the mailbox (the form's fields), apart from the password."""

    host: str
    port: int
    security: str
    login: str
    folder: str = "INBOX"
    is_enabled: bool = True


def bounce_mailbox_save(*, owner: User, values: MailboxSettings, password: str = "") -> BounceMailbox:
    """Create or change the owner's mailbox; an empty `password` keeps the stored one."""
    mailbox = BounceMailbox.objects.filter(owner=owner).first() or BounceMailbox(owner=owner)
    moved = mailbox.pk is None or any(
        getattr(mailbox, name) != getattr(values, name) for name in ("host", "port", "login", "folder")
    )
    for name in ("host", "port", "security", "login", "folder", "is_enabled"):
        setattr(mailbox, name, getattr(values, name))
    if password:
        mailbox.password_encrypted = password_encrypt(password)
    if moved:
        # Another mailbox or folder: its UIDs mean nothing here; the processed keyword still guards re-reading.
        mailbox.uidvalidity, mailbox.last_uid = None, 0
    if moved or password:
        mailbox.check_status, mailbox.checked_at, mailbox.last_error = BounceMailbox.CheckStatus.NEVER, None, ""
    mailbox.save()
    data_version_bump(owner_id=owner.pk)
    logger.info("bounce mailbox saved: owner=%s mailbox=%s password_changed=%s", owner.pk, mailbox.pk, bool(password))
    return mailbox


def bounce_mailbox_check_request(*, mailbox: BounceMailbox) -> None:
    """Ask the worker to log in and read the folder now (a web request never opens IMAP)."""
    from bounces.tasks import poll_bounce_mailbox

    now = timezone.now()
    BounceMailbox.objects.filter(pk=mailbox.pk).update(
        check_status=BounceMailbox.CheckStatus.CHECKING, poll_requested_at=now
    )
    mailbox.check_status, mailbox.poll_requested_at = BounceMailbox.CheckStatus.CHECKING, now
    transaction.on_commit(lambda: poll_bounce_mailbox.enqueue(mailbox.pk))
    if mailbox.owner_id is not None:
        data_version_bump(owner_id=mailbox.owner_id)
    logger.info("bounce mailbox check requested: mailbox=%s", mailbox.pk)
