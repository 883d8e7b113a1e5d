"""Writes of SMTP accounts. The owner comes from the signed-in user; the password is encrypted here, once.

Managers disable and enable accounts in moderation/services.py.
"""

import logging
from dataclasses import dataclass, fields

from django.db import transaction
from django.db.models.deletion import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.data_versions import data_version_bump
from mailings.models import SmtpAccountState
from senders.crypto import password_encrypt
from senders.models import SmtpAccount
from users.models import User

logger = logging.getLogger(__name__)


class SmtpAccountInUse(Exception):
    """The account is chosen by mailings: deleting it would leave them without a sender."""


@dataclass(frozen=True)
class AccountSettings:
    """What the owner sets on an account (the form's fields), apart from the password."""

    name: str
    host: str
    port: int
    security: str
    login: str
    from_email: str
    from_name: str = ""
    reply_to: str = ""
    limit_per_second: float = 0.0
    limit_per_hour: int = 0
    limit_per_day: int = 0


SETTINGS_FIELDS = [f.name for f in fields(AccountSettings)]


def _apply(account: SmtpAccount, values: AccountSettings) -> None:
    for name in SETTINGS_FIELDS:
        setattr(account, name, getattr(values, name))


def _forget_check(account: SmtpAccount) -> None:
    """A changed server or login makes the last check's verdict stale."""
    account.check_status = SmtpAccount.CheckStatus.NEVER
    account.check_requested_at = account.checked_at = None
    account.check_code, account.check_reply = None, ""
    account.check_reason, account.check_reason_params = "", None


def smtp_account_create(*, owner: User, values: AccountSettings, password: str) -> SmtpAccount:
    account = SmtpAccount(owner=owner)
    _apply(account, values)
    account.password_encrypted = password_encrypt(password)
    with transaction.atomic():  # a savepoint: a duplicate name leaves the caller's transaction usable
        account.save()
    data_version_bump(owner_id=owner.pk)
    logger.info("smtp account created: owner=%s account=%s", owner.pk, account.pk)
    return account


def smtp_account_update(*, account: SmtpAccount, values: AccountSettings, password: str = "") -> SmtpAccount:
    """Change the settings; an empty `password` keeps the stored one (the form never shows it back)."""
    connection_changed = any(
        getattr(account, name) != getattr(values, name) for name in ("host", "port", "security", "login")
    )
    _apply(account, values)
    if password:
        account.password_encrypted = password_encrypt(password)
    if password or connection_changed:
        _forget_check(account)
    with transaction.atomic():
        account.save()
    data_version_bump(owner_id=account.owner_id)
    logger.info("smtp account updated: account=%s password_changed=%s", account.pk, bool(password))
    return account


def smtp_account_delete(*, account: SmtpAccount) -> None:
    """Delete the account and its counters; refused (SmtpAccountInUse) while a mailing sends through it."""
    if account.mailings.exists():
        raise SmtpAccountInUse(_("Учётную запись выбрали рассылки: сначала выберите им другую учётную запись."))
    pk, key = account.pk, account.breaker_key
    try:
        with transaction.atomic():
            account.delete()
            SmtpAccountState.objects.filter(account=key).delete()
    except ProtectedError as exc:  # a mailing chose it between the check and the delete
        raise SmtpAccountInUse(
            _("Учётную запись выбрали рассылки: сначала выберите им другую учётную запись.")
        ) from exc
    data_version_bump(owner_id=account.owner_id)
    logger.info("smtp account deleted: account=%s", pk)


def smtp_account_check_request(*, account: SmtpAccount) -> None:
    """Ask the worker to try the connection and login (a web request never opens SMTP)."""
    from senders.tasks import check_smtp_account

    now = timezone.now()
    SmtpAccount.objects.filter(pk=account.pk).update(
        check_status=SmtpAccount.CheckStatus.CHECKING, check_requested_at=now
    )
    account.check_status, account.check_requested_at = SmtpAccount.CheckStatus.CHECKING, now
    transaction.on_commit(lambda: check_smtp_account.enqueue(account.pk))
    data_version_bump(owner_id=account.owner_id)
    logger.info("smtp account check requested: account=%s", account.pk)


def smtp_passwords_rotate() -> tuple[int, int]:
    """Re-encrypt every password with the first key; returns (re-encrypted, not decryptable)."""
    from senders.crypto import PasswordUndecryptable, password_rotate

    rotated = failed = 0
    for pk, token in SmtpAccount.objects.exclude(password_encrypted="").values_list("pk", "password_encrypted"):
        try:
            new_token = password_rotate(token)
        except PasswordUndecryptable:
            failed += 1
            logger.warning("smtp account password not decryptable with the configured keys: account=%s", pk)
            continue
        rotated += SmtpAccount.objects.filter(pk=pk, password_encrypted=token).update(password_encrypted=new_token)
    logger.info("smtp passwords re-encrypted: %s, not decryptable: %s", rotated, failed)
    return rotated, failed
