"""Signed, expiring, one-time links that confirm an email address.

The payload carries a digest of the account state that confirming changes
(`email_confirmed_at`, `last_login`), so a link works once. The salt is our own:
a password-reset token or any other signed value of the site is not accepted.
"""

import hashlib

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing

from users.models import User

CONFIRM_EMAIL_SALT = "users.confirm-email"


class ConfirmationLinkError(Exception):
    """The link cannot confirm anything; `reason` is one of "invalid", "expired", "used", "blocked"."""

    def __init__(self, reason: str, user: User | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user = user


def _state(user: User) -> str:
    raw = f"{user.pk}|{user.email.lower()}|{user.email_confirmed_at}|{user.last_login}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def confirmation_token_make(*, user: User) -> str:
    return signing.dumps({"u": user.pk, "s": _state(user)}, salt=CONFIRM_EMAIL_SALT)


def confirmation_token_user(*, token: str) -> User:
    """Return the user a valid, unused, unexpired token confirms; raise ConfirmationLinkError otherwise."""
    try:
        payload = signing.loads(token, salt=CONFIRM_EMAIL_SALT, max_age=settings.ACCOUNT_CONFIRMATION_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ConfirmationLinkError("expired") from exc
    except signing.BadSignature as exc:
        raise ConfirmationLinkError("invalid") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        raise ConfirmationLinkError("invalid")
    user = User.objects.filter(pk=payload["u"]).first()
    if user is None:
        raise ConfirmationLinkError("invalid")
    if user.is_blocked:
        raise ConfirmationLinkError("blocked", user)
    if user.email_confirmed_at is not None or payload.get("s") != _state(user):
        raise ConfirmationLinkError("used", user)
    return user


class ResetTokenGenerator(PasswordResetTokenGenerator):
    """Django's password-reset token with its hash marked by a letter (`<timestamp>-h<hash>`).

    A bare 32-character hex word that starts with 1 or 3 and has no 0 reads as a Bitcoin address to SpamAssassin
    (PDS_BTC_ID, +1.0): about one reset email in sixty scored above zero. Django checks a token by making it again
    with this same method, so the letter is all that changes.
    """

    def _make_token_with_timestamp(self, user: User, timestamp: int, secret: str | bytes) -> str:
        token = super()._make_token_with_timestamp(user, timestamp, secret)
        timestamp_b36, _dash, digest = token.partition("-")
        return f"{timestamp_b36}-h{digest}"


reset_token_generator = ResetTokenGenerator()
