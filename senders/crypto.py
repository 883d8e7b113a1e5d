"""SMTP account passwords encrypted at rest (Fernet: AES-128-CBC with HMAC-SHA256, from `cryptography`).

The keys come from the environment (`SMTP_PASSWORD_KEY`, comma-separated): the first encrypts, every one
decrypts (MultiFernet), so a key is rotated by putting the new one first and re-encrypting
(`manage.py smtp_passwords_rotate`). A database dump alone never gives a mailbox away. Nothing here logs a
password or a key.
"""

import base64
import hashlib
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

logger = logging.getLogger(__name__)


class PasswordKeyMissing(Exception):
    """No SMTP_PASSWORD_KEY in production: a password cannot be stored."""


class PasswordUndecryptable(Exception):
    """The stored password was encrypted with a key no longer configured (or the value is damaged)."""


def derived_development_key() -> str:
    """A key derived from SECRET_KEY, for DEBUG only: development databases keep working without setup."""
    digest = hashlib.sha256(b"vestnik:smtp-password-key:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _keys() -> list[str]:
    keys = list(settings.SMTP_PASSWORD_KEYS)
    if not keys and settings.SMTP_PASSWORD_KEY_DERIVED:
        keys = [derived_development_key()]
    return keys


def _fernet() -> MultiFernet:
    keys = _keys()
    if not keys:
        raise PasswordKeyMissing
    return MultiFernet([Fernet(key.encode()) for key in keys])


def password_key_configured() -> bool:
    return bool(_keys())


def password_encrypt(plain: str) -> str:
    """The token to store; "" for no password."""
    if not plain:
        return ""
    return _fernet().encrypt(plain.encode()).decode()


def password_decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, PasswordKeyMissing) as exc:
        raise PasswordUndecryptable from exc


def password_rotate(token: str) -> str:
    """The same password encrypted with the first key (MultiFernet.rotate)."""
    if not token:
        return ""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise PasswordUndecryptable from exc
