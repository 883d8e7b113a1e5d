"""Account emails (address confirmation, password reset) through the same SMTP account rules as mailings.

They go through the service's SMTP account, so they count in its sending limits and respect its circuit
breaker like any mailing: a burst of password resets cannot burn the provider's daily quota, and a server
that is away is not hammered. A message that could not go out now is not lost: `account_email_send` says
when to try again (the task in users/tasks.py re-enqueues itself for then), with back-off
(`ACCOUNT_EMAIL_RETRY_BACKOFF`) for the server's temporary trouble, until the retries run out.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.utils import timezone

from mailings.delivery.accounts import service_smtp_config as smtp_config
from mailings.delivery.breaker import breaker_close, breaker_gate, breaker_open
from mailings.delivery.compose import BuildError, smtp_address, standalone_message
from mailings.delivery.ratelimit import ratelimit_refund, ratelimit_reserve
from mailings.delivery.smtp import Outcome, SmtpSession, SystemicError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountMailOutcome:
    """`sent`, or `retry_at` (try again then), or neither: given up (logged with the reason)."""

    sent: bool = False
    retry_at: datetime | None = None
    why: str = ""
    # The server's own trouble (counts towards giving up), not a pause or a limit (which only wait).
    server_trouble: bool = False


def _backoff(tries: int, now: datetime) -> datetime | None:
    backoff = list(settings.ACCOUNT_EMAIL_RETRY_BACKOFF)
    if tries >= len(backoff):
        return None
    return now + timedelta(seconds=int(backoff[tries]))


def account_from_email() -> str:
    """The sender of account emails: ACCOUNT_FROM_EMAIL, or DEFAULT_FROM_EMAIL when it is empty."""
    return str(settings.ACCOUNT_FROM_EMAIL or settings.DEFAULT_FROM_EMAIL)


def _message_bytes(*, to: str, subject: str, body: str, html_body: str) -> bytes:
    """The mailings' wire format (compose.standalone_message: folded headers, quoted-printable, DKIM if set)."""
    data, _message_id = standalone_message(
        from_email=account_from_email(),
        to=[to],
        subject=subject,
        text=body,
        html=html_body or None,
        # An automatic message: out-of-office replies and auto-responders must not answer it (RFC 3834).
        headers=[("Auto-Submitted", "auto-generated")],
    )
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def account_email_send(*, to: str, subject: str, body: str, html_body: str, tries: int) -> AccountMailOutcome:
    """Send one account email now if the service account may send; otherwise say when to try again.

    `tries` is how many times the server's trouble already stopped this message (for the back-off).
    """
    now = timezone.now()
    config = smtp_config()
    deadline_seconds = float(settings.SEND_MESSAGE_DEADLINE)
    try:
        to_addr = smtp_address(to)
        sender = account_from_email()
        from_addr = smtp_address(parseaddr(sender)[1] or sender)
    except BuildError as exc:
        return AccountMailOutcome(why=f"cannot be built: {exc}")
    gate = breaker_gate(account=config.account, now=now, probe_seconds=deadline_seconds)
    if not gate.allowed:
        assert gate.retry_at is not None
        return AccountMailOutcome(retry_at=gate.retry_at, why="the mail server is paused")
    reservation = ratelimit_reserve(account=config.account, want=1, now=now)
    if reservation.granted <= 0:
        assert reservation.retry_at is not None
        return AccountMailOutcome(retry_at=reservation.retry_at, why="the sending limit is reached")
    wait = (reservation.start - now).total_seconds()
    if wait > 0:
        time.sleep(wait)  # a per-second pace: at most a second or two
    session = SmtpSession(config)
    deadline = time.monotonic() + deadline_seconds
    data = _message_bytes(to=to, subject=subject, body=body, html_body=html_body)
    try:
        session.open(deadline=deadline)
        result = session.send(
            from_addr=from_addr, to_addr=to_addr, data=data, deadline=deadline, before_dot=lambda: True
        )
    except SystemicError as exc:
        ratelimit_refund(account=config.account, reservation=reservation, unused=1)
        if exc.immediate or gate.probe:
            breaker_open(account=config.account, reason=exc.reason, now=timezone.now())
        return AccountMailOutcome(retry_at=_backoff(tries, now), why=str(exc.reason), server_trouble=True)
    finally:
        session.close()
    if gate.probe and result.outcome != Outcome.SYSTEMIC:
        breaker_close(account=config.account, now=timezone.now())
    if result.outcome == Outcome.SENT:
        return AccountMailOutcome(sent=True)
    if result.outcome == Outcome.SYSTEMIC:
        assert result.reason is not None
        ratelimit_refund(account=config.account, reservation=reservation, unused=1)
        breaker_open(account=config.account, reason=result.reason.with_params(reply=result.reply), now=timezone.now())
        return AccountMailOutcome(
            retry_at=_backoff(tries, now), why=f"{result.reason}: {result.reply}", server_trouble=True
        )
    if result.outcome == Outcome.FAILED:
        # A permanent refusal of this address: trying again would be refused again.
        return AccountMailOutcome(why=f"{result.reason}: {result.reply}")
    if result.outcome == Outcome.UNKNOWN:
        # The server may have it: a second copy of a confirmation link is worse than none (the user can ask).
        return AccountMailOutcome(why=f"{result.reason}")
    return AccountMailOutcome(
        retry_at=_backoff(tries, now), why=f"{result.reason}: {result.reply}", server_trouble=True
    )
