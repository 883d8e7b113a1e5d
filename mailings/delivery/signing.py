"""Optional DKIM signing by Vestnik itself (RFC 6376), for relays that do not sign.

Configured by DKIM_SELECTOR, DKIM_DOMAIN and DKIM_PRIVATE_KEY_FILE (all three, or none: then the
relay is expected to sign, README «DKIM»). The list headers are signed whenever present, including
List-Unsubscribe and List-Unsubscribe-Post as RFC 8058 requires for one-click unsubscribing.

dkimpy and cryptography are imported only when DKIM is configured: together they add about 16 MB to
every worker, which most installations (whose relay signs) would pay for nothing.
"""

import base64
import logging
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

logger = logging.getLogger(__name__)

# Signed when present; dkimpy's own list lacks List-Unsubscribe-Post and Feedback-ID.
SIGNED_HEADERS = (
    "from", "reply-to", "to", "subject", "date", "message-id", "mime-version", "content-type",
    "content-transfer-encoding", "list-id", "list-unsubscribe", "list-unsubscribe-post", "feedback-id",
    "precedence", "auto-submitted",
)  # fmt: skip


class DkimConfigError(Exception):
    """DKIM is configured but its key cannot be used."""


@dataclass(frozen=True)
class DkimKey:
    selector: str
    domain: str
    private_key: bytes  # PEM

    def sign(self, data: bytes) -> bytes:
        """`data` with a DKIM-Signature header in front (relaxed/relaxed: survives header refolding)."""
        import dkim

        present = {line.split(b":", 1)[0].strip().lower() for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")}
        headers = [h.encode() for h in SIGNED_HEADERS if h.encode() in present]
        signature = dkim.sign(
            data,
            self.selector.encode(),
            self.domain.encode(),
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=headers,
        )
        return bytes(signature) + data

    def public_record(self) -> str:
        """The TXT record to publish at `<selector>._domainkey.<domain>`."""
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(self.private_key, password=None)
        der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


@lru_cache(maxsize=4)
def _load(selector: str, domain: str, path: str) -> DkimKey:
    from cryptography.hazmat.primitives import serialization

    try:
        with open(path, "rb") as f:
            pem = f.read()
        serialization.load_pem_private_key(pem, password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise DkimConfigError(f"DKIM_PRIVATE_KEY_FILE {path!r}: {exc}") from exc
    return DkimKey(selector=selector, domain=domain, private_key=pem)


def dkim_key() -> DkimKey | None:
    """The configured key, None when DKIM is off; DkimConfigError when it is half set or unreadable."""
    selector, domain, path = settings.DKIM_SELECTOR, settings.DKIM_DOMAIN, settings.DKIM_PRIVATE_KEY_FILE
    if not (selector or domain or path):
        return None
    if not (selector and domain and path):
        raise DkimConfigError("DKIM_SELECTOR, DKIM_DOMAIN and DKIM_PRIVATE_KEY_FILE must be set together")
    return _load(str(selector), str(domain).lower(), str(path))
