"""Reading a mailto unsubscribe: a message to UNSUBSCRIBE_MAILTO whose subject or body carries a personal token.

Every mailing message's List-Unsubscribe offers `mailto:UNSUBSCRIBE_MAILTO?subject=unsubscribe%20TOKEN` when
that setting is set (suppressions/links.py); a mail client sends that message, a person may also reply or
forward by hand (the token then sits in the subject after «Re:» or in the body). The token is AES-GCM
(suppressions/tokens.py), so a forged or altered one reads as nothing: such a message is left alone like any
other unrecognised mail. Nothing here touches the database; bounces/services.py suppresses the address.
"""

import email
import email.policy
import re
from email.message import Message
from email.utils import getaddresses

from django.conf import settings

from bounces.reports import _decoded_text, _header
from suppressions.tokens import UnsubscribeToken, token_read

# A token is base64url of 1 + 12 + payload + 16 bytes: never under 40 characters.
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,2000}(?![A-Za-z0-9_-])")
# Only so many candidates are tried per message: a message full of long words costs a bounded amount of work.
_CANDIDATES_MAX = 20
_ADDRESS_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")


def _addressed_to(msg: Message, address: str) -> bool:
    values = [str(value) for name in _ADDRESS_HEADERS for value in (msg.get_all(name) or [])]
    return any(found.strip().lower() == address for _name, found in getaddresses(values))


def unsubscribe_request_read(raw: bytes) -> UnsubscribeToken | None:
    """The token of a mailto unsubscribe request, or None (no UNSUBSCRIBE_MAILTO, another address, no valid token)."""
    address = str(settings.UNSUBSCRIBE_MAILTO or "").strip().lower()
    if not address:
        return None
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if not _addressed_to(msg, address):
        return None
    candidates = _TOKEN.findall(_header(msg, "Subject")) + _TOKEN.findall(_decoded_text(msg))
    for candidate in candidates[:_CANDIDATES_MAX]:
        token = token_read(candidate)
        if token is not None:
            return token
    return None
