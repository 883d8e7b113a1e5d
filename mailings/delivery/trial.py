"""Test sends («Отправить тестовое письмо»): one message to its owner's own confirmed address.

Built by the same composer as a mailing's messages (marked as a test: a subject prefix and the
`X-Vestnik-Test` header), sent over the service's SMTP account by a worker, never by the web
request. Nothing is written to Attempt or Delivery, so statistics never count a test.
The request side (`trial_request`) limits each user to TEST_SEND_LIMIT sends per TEST_SEND_WINDOW.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from mailings.delivery.compose import BuildError, composer_for_message
from mailings.delivery.engine import _envelope_sender, smtp_config
from mailings.delivery.smtp import Outcome, SmtpSession, SystemicError
from mailings.models import Message
from suppressions.links import unsubscribe_page_url
from users.models import User

logger = logging.getLogger(__name__)


class TrialRefused(Exception):
    """The test send is not allowed now; `code` says why ("unconfirmed" or "rate")."""

    def __init__(self, code: str, *, retry_in: int = 0) -> None:
        super().__init__(code)
        self.code = code
        self.retry_in = retry_in


@dataclass(frozen=True)
class TrialResult:
    outcome: str
    reply: str


def _rate_key(user_id: int) -> str:
    return f"vestnik:trial-sends:{user_id}"


def trial_rate_take(*, user_id: int, now: float | None = None) -> None:
    """Count one test send for the user, or TrialRefused("rate") when the window's limit is reached.

    The times live in the shared cache: approximate under a race of two clicks, which is enough for a
    limit whose purpose is to stop a page from being used as a mail cannon.
    """
    now = time.time() if now is None else now
    window = int(settings.TEST_SEND_WINDOW)
    recent = [t for t in cache.get(_rate_key(user_id), []) if t > now - window]
    if len(recent) >= int(settings.TEST_SEND_LIMIT):
        raise TrialRefused("rate", retry_in=int(min(recent) + window - now) + 1)
    cache.set(_rate_key(user_id), [*recent, now], timeout=window)


def trial_recipient(user: User) -> str:
    """The owner's own confirmed address, or TrialRefused("unconfirmed")."""
    if user.email_confirmed_at is None or not user.email:
        raise TrialRefused("unconfirmed")
    return str(user.email)


def trial_send(*, message_id: int, user_id: int) -> TrialResult | None:
    """Send the test message now (in a worker). None when the message or user is gone or not theirs."""
    message = Message.objects.select_related("owner").filter(pk=message_id, owner_id=user_id).first()
    if message is None:
        return None
    user = message.owner
    try:
        to_email = trial_recipient(user)
    except TrialRefused:
        return None
    # The footer with a working link (to the owner's own address) shows the owner what recipients get; the
    # List-Unsubscribe headers are left out: a test to oneself is not bulk mail.
    composer = composer_for_message(message=message, test=True, unsubscribe_footer=True)
    url = unsubscribe_page_url(owner_id=user.pk, email=to_email)
    try:
        to_addr, data, _message_id = composer.build(email=to_email, full_name=user.get_full_name(), unsubscribe_url=url)
    except BuildError as exc:
        logger.warning("test send not built: message=%s reason=%s", message_id, exc.reason.code)
        return TrialResult(Outcome.FAILED, str(exc.reason))
    config = smtp_config()
    session = SmtpSession(config)
    deadline = time.monotonic() + float(settings.SEND_MESSAGE_DEADLINE)
    try:
        session.open(deadline=deadline)
        result = session.send(
            from_addr=_envelope_sender(settings.DEFAULT_FROM_EMAIL),
            to_addr=to_addr,
            data=data,
            deadline=deadline,
            before_dot=lambda: True,
        )
    except SystemicError as exc:
        logger.warning("test send failed: message=%s reason=%s", message_id, exc.reason.code)
        return TrialResult(Outcome.SYSTEMIC, str(exc.reason))
    finally:
        session.close()
    logger.info("test send: message=%s user=%s outcome=%s reply=%s", message_id, user_id, result.outcome, result.reply)
    return TrialResult(result.outcome, result.reply)
