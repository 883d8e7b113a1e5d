"""The SMTP account a mailing sends through: its connection, From, limits and the key of its shared state.

A mailing sends through its owner's `senders.SmtpAccount`, or, without one, through the service account
(the EMAIL_* settings and SEND_RATE_* limits) when ALLOW_SERVICE_ACCOUNT_FOR_MAILINGS allows it. The
breaker and the counters (SmtpAccountState) are keyed by `SmtpConfig.account`: `acct:<id>` for an owner's
account, `login@host:port` for the service account, so one owner's broken mailbox pauses only its own runs.
"""

import logging
from dataclasses import dataclass
from email.headerregistry import Address

from django.conf import settings
from django.core.mail.utils import DNS_NAME

from mailings.delivery.compose import clean_display_name
from mailings.delivery.ratelimit import Limits
from mailings.delivery.reasons import Reason, reason
from mailings.delivery.smtp import SmtpConfig
from senders.crypto import PasswordUndecryptable, password_decrypt
from senders.models import SmtpAccount

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sender:
    """What the engine needs of an account; `paused` says why it may not be used now (the run waits)."""

    config: SmtpConfig
    from_email: str
    reply_to: str
    limits: Limits
    name: str
    paused: Reason | None = None


def service_smtp_config() -> SmtpConfig:
    return SmtpConfig(
        host=settings.EMAIL_HOST,
        port=int(settings.EMAIL_PORT),
        username=settings.EMAIL_HOST_USER or "",
        password=settings.EMAIL_HOST_PASSWORD or "",
        use_tls=bool(settings.EMAIL_USE_TLS),
        use_ssl=bool(settings.EMAIL_USE_SSL),
        timeout=float(settings.EMAIL_TIMEOUT or 30.0),
        local_hostname=str(DNS_NAME),
    )


def account_smtp_config(account: SmtpAccount, *, password: str) -> SmtpConfig:
    return SmtpConfig(
        host=account.host,
        port=int(account.port),
        username=account.login,
        password=password,
        use_tls=account.security == SmtpAccount.Security.STARTTLS,
        use_ssl=account.security == SmtpAccount.Security.SSL,
        timeout=float(settings.EMAIL_TIMEOUT or 30.0),
        local_hostname=str(DNS_NAME),
        key=account.breaker_key,
    )


def _from_header(account: SmtpAccount) -> str:
    """`"Name" <address>`: control characters dropped (header injection), the name quoted, so that a name
    such as `Shop: x@y` can never read as another address."""
    name = clean_display_name(account.from_name)
    if not name:
        return account.from_email
    try:
        return str(Address(display_name=name, addr_spec=account.from_email))
    except (ValueError, IndexError):  # an address the form let through but the email package refuses
        return account.from_email


def account_sender(account: SmtpAccount) -> Sender:
    paused: Reason | None = None
    try:
        password = password_decrypt(account.password_encrypted)
    except PasswordUndecryptable:
        logger.warning("smtp account password cannot be decrypted: account=%s", account.pk)
        password, paused = "", reason("password_undecryptable", name=account.name)
    if not account.is_enabled:
        paused = reason("account_disabled", name=account.name, why=account.disabled_reason)
    return Sender(
        config=account_smtp_config(account, password=password),
        from_email=_from_header(account),
        reply_to=account.reply_to,
        limits=Limits(
            per_second=float(account.limit_per_second),
            per_hour=int(account.limit_per_hour),
            per_day=int(account.limit_per_day),
        ),
        name=account.name,
        paused=paused,
    )


def service_sender() -> Sender:
    allowed = bool(settings.ALLOW_SERVICE_ACCOUNT_FOR_MAILINGS)
    return Sender(
        config=service_smtp_config(),
        from_email=settings.DEFAULT_FROM_EMAIL,
        reply_to="",
        limits=Limits.from_settings(),
        name="",
        paused=None if allowed else reason("service_account_not_allowed"),
    )


def mailing_sender(*, smtp_account_id: int | None) -> Sender:
    """The sender of a mailing by its `smtp_account_id`, read fresh (a manager may have disabled it)."""
    if smtp_account_id is None:
        return service_sender()
    account = SmtpAccount.objects.filter(pk=smtp_account_id).first()
    if account is None:  # deleting an account in use is refused; a race leaves the run waiting, not failing
        return Sender(
            config=service_smtp_config(),
            from_email=settings.DEFAULT_FROM_EMAIL,
            reply_to="",
            limits=Limits.from_settings(),
            name="",
            paused=reason("account_deleted"),
        )
    return account_sender(account)


def sender_pause(*, smtp_account_id: int | None) -> Reason | None:
    """Why the mailing's account may not send now, or None. One query; the engine asks before each batch."""
    if smtp_account_id is None:
        return None if settings.ALLOW_SERVICE_ACCOUNT_FOR_MAILINGS else reason("service_account_not_allowed")
    row = SmtpAccount.objects.filter(pk=smtp_account_id).values("name", "is_enabled", "disabled_reason").first()
    if row is None:
        return reason("account_deleted")
    if not row["is_enabled"]:
        return reason("account_disabled", name=row["name"], why=row["disabled_reason"])
    return None
