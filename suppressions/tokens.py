"""Personal unsubscribe tokens: unguessable, tamper-proof, and saying nothing about the address.

A token is the owner id, the mailing id and the address encrypted with AES-GCM (the `cryptography`
package) under a key derived from SECRET_KEY: reading the link reveals nothing, changing one character
makes it unreadable, and no row has to be written per recipient (a run of 100,000 messages builds
100,000 links). Django's `signing` alone would sign the address in clear base64. A token also outlives
the recipient row and the mailing: the unsubscribe page works when the owner deleted either meanwhile.
Keys in SECRET_KEY_FALLBACKS still read old links after the secret is rotated.
"""

import base64
import binascii
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.utils.crypto import salted_hmac

_SALT = "suppressions.unsubscribe-token"
_VERSION = b"\x01"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class UnsubscribeToken:
    owner_id: int
    mailing_id: int | None
    email: str


@lru_cache(maxsize=8)
def _cipher(secret: str) -> AESGCM:
    # Cached: deriving the key and setting up the cipher cost more than the encryption of one token.
    return AESGCM(salted_hmac(_SALT, "key", secret=secret, algorithm="sha256").digest())


def token_make(*, owner_id: int, email: str, mailing_id: int | None = None) -> str:
    payload = f"{owner_id}:{mailing_id or ''}:{email}".encode()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(settings.SECRET_KEY).encrypt(nonce, payload, _VERSION)
    return base64.urlsafe_b64encode(_VERSION + nonce + sealed).decode().rstrip("=")


def token_read(token: str) -> UnsubscribeToken | None:
    """The token's contents, or None for anything forged, altered, truncated or made with an unknown key."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 1 + _NONCE_BYTES + 16 or raw[:1] != _VERSION:
        return None
    nonce, sealed = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        try:
            payload = _cipher(secret).decrypt(nonce, sealed, _VERSION)
        except InvalidTag:
            continue
        try:
            owner, mailing, email = payload.decode().split(":", 2)
            return UnsubscribeToken(owner_id=int(owner), mailing_id=int(mailing) if mailing else None, email=email)
        except ValueError:
            return None
    return None
