"""«Проверить соединение» in the worker: connect, EHLO, STARTTLS or SSL, AUTH, QUIT, and keep the verdict.

The same `SmtpSession.open` the engine uses, so the check fails exactly where sending would.
"""

import logging
import time

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from core.data_versions import data_version_bump
from mailings.delivery.accounts import account_smtp_config
from mailings.delivery.reasons import Reason, reason
from mailings.delivery.smtp import SmtpSession, SystemicError
from senders.crypto import PasswordUndecryptable, password_decrypt
from senders.models import SmtpAccount

logger = logging.getLogger(__name__)


@task(queue_name="default")
def check_smtp_account(account_id: int) -> None:
    smtp_account_check_run(account_id=account_id)


def smtp_account_check_run(*, account_id: int) -> str:
    """Try the account now and store the outcome; returns the stored check status."""
    account = SmtpAccount.objects.filter(pk=account_id).first()
    if account is None:
        return ""
    code: int | None = None
    reply = ""
    why: Reason
    try:
        password = password_decrypt(account.password_encrypted)
    except PasswordUndecryptable:
        why = reason("password_undecryptable", name=account.name)
    else:
        session = SmtpSession(account_smtp_config(account, password=password))
        try:
            session.open(deadline=time.monotonic() + float(settings.SEND_MESSAGE_DEADLINE))
        except SystemicError as exc:
            why, code, reply = exc.reason, exc.code, exc.reply
        else:
            why = reason("check_ok")
        finally:
            session.close()
    status = SmtpAccount.CheckStatus.OK if why.code == "check_ok" else SmtpAccount.CheckStatus.FAILED
    SmtpAccount.objects.filter(pk=account_id).update(
        check_status=status,
        checked_at=timezone.now(),
        check_code=code,
        check_reply=reply,
        check_reason=why.code,
        check_reason_params=why.stored_params(),
    )
    data_version_bump(owner_id=account.owner_id)
    logger.info("smtp account checked: account=%s status=%s reason=%s code=%s", account_id, status, why.code, code)
    return str(status)
