"""Building the message for one recipient: one address in To:, its own Message-ID.

The subject, sender and body are the same for every recipient of a run, so they are encoded
once; only To:, Date: and Message-ID: are built per recipient (Python's email package is the
bottleneck on loopback: docs/delivery-engine.md, Throughput).
"""

import re
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, make_msgid

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from mailings.delivery.reasons import Reason, reason

# Names are cosmetic: control characters (CR/LF header injection, \x0b, \x1c-\x1e that make the
# email package raise HeaderParseError) are replaced rather than failing the recipient.
_NAME_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\"]+")

_HEADER_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")

_POLICY = SMTP.clone(max_line_length=998)


class BuildError(Exception):
    """The message for this recipient cannot be built (bad address or header); `reason` says why."""

    def __init__(self, why: Reason) -> None:
        super().__init__(str(why))
        self.reason = why


def clean_display_name(name: str) -> str:
    return " ".join(_NAME_JUNK.sub(" ", name).split())[:200]


def smtp_address(email: str) -> str:
    """The envelope address, or BuildError. Non-ASCII local parts need SMTPUTF8, which we do not use."""
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise BuildError(reason("bad_address")) from exc
    local, _at, domain = email.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise BuildError(reason("bad_domain")) from exc
    if not local.isascii() or any(c in local for c in "\r\n<>"):
        raise BuildError(reason("non_ascii_address"))
    return f"{local}@{domain}"


class MessageComposer:
    def __init__(self, *, from_email: str, subject: str, body: str, msgid_domain: str, reply_to: str = "") -> None:
        self.msgid_domain = msgid_domain
        try:
            base = EmailMessage(policy=_POLICY)
            base["From"] = from_email
            if reply_to:
                base["Reply-To"] = smtp_address(reply_to)
            base["Subject"] = " ".join(_HEADER_JUNK.sub(" ", subject).split())
            base.set_content(body)
            self._common = base.as_bytes()
            self._error: Reason | None = None
        except (HeaderParseError, ValueError, TypeError, UnicodeError, BuildError) as exc:
            self._common = b""
            self._error = reason("message_unbuildable", error=exc)
        self._date_second = -1
        self._date = ""

    def _now_date(self) -> str:
        import time

        second = int(time.time())
        if second != self._date_second:
            self._date_second = second
            self._date = formatdate(second, localtime=False)
        return self._date

    def build(self, *, email: str, full_name: str) -> tuple[str, bytes, str]:
        """Returns (envelope address, message bytes with CRLF line ends, Message-ID); BuildError if impossible."""
        if self._error is not None:
            raise BuildError(self._error)
        to_addr = smtp_address(email)
        message_id = make_msgid(domain=self.msgid_domain)
        try:
            # formataddr() encodes a non-ASCII name as RFC 2047 words; the name has no control
            # characters or quotes left, the address was validated: no header injection possible.
            to_header = formataddr((clean_display_name(full_name), to_addr), charset="utf-8")
            head = f"To: {to_header}\nDate: {self._now_date()}\nMessage-ID: {message_id}\n"
            head_bytes = head.encode("ascii").replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        except (HeaderParseError, ValueError, TypeError, UnicodeError, IndexError) as exc:
            raise BuildError(reason("header_unbuildable", error=exc)) from exc
        return to_addr, head_bytes + self._common, message_id
