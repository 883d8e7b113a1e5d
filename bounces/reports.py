"""Reading one incoming message: a bounce report, a complaint, or neither.

- RFC 3464 delivery status notifications (multipart/report; report-type=delivery-status): the per-recipient
  fields (Final-Recipient, Action, Status, Diagnostic-Code) are read with the standard `email` package,
  which parses message/delivery-status into its header blocks.
- RFC 5965 complaint reports (multipart/report; report-type=feedback-report).
- Everything else from a mailer daemon (Exim's and Mail.ru's plain-text bounces with X-Failed-Recipients,
  qmail, Exchange and the rest): flufl.bounce's detectors give the failed addresses; the diagnostic is the
  first SMTP reply line quoted in the text.
- Out-of-office replies (RFC 3834 Auto-Submitted and the common X- headers and subjects) and ordinary mail
  are `IGNORED`: counted as unrecognised, never a bounce.

Nothing here touches the database: `report_read` turns bytes into a `Report`; bounces/services.py records it.
"""

import email
import email.header
import email.policy
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

from mailings.delivery.compose import delivery_ids_in

logger = logging.getLogger(__name__)

DSN = "dsn"
COMPLAINT = "complaint"
NONSTANDARD = "nonstandard"
AUTO_REPLY = "auto_reply"
IGNORED = "ignored"

HARD, SOFT = "hard", "soft"

DIAGNOSTIC_MAX_CHARS = 1000

_ENHANCED_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_REPLY_LINE = re.compile(r"^.*\b([45]\d\d)[ -](?:[45]\.\d{1,3}\.\d{1,3}\b)?.*$", re.MULTILINE)
_ADDRESS_GONE = re.compile(
    r"no such (user|mailbox|recipient)|user unknown|unknown user|does not exist|doesn't exist|"
    r"invalid mailbox|mailbox unavailable|account is disabled|нет такого|не существует",
    re.IGNORECASE,
)
_DAEMON_LOCAL_PARTS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "mail-delivery-subsystem"}
_AUTO_REPLY_SUBJECTS = re.compile(
    r"^\s*(автоответ|auto[- ]?reply|automatic reply|autoreply|out of (the )?office|abwesenheit|"
    r"я в отпуске|нет на месте|auto:)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ReportItem:
    """One recipient's outcome in a report; `email` may be empty when a complaint hides the address."""

    email: str
    kind: str  # HARD, SOFT or COMPLAINT
    status: str = ""
    diagnostic: str = ""


@dataclass
class Report:
    kind: str  # DSN, COMPLAINT, NONSTANDARD, AUTO_REPLY or IGNORED
    items: list[ReportItem] = field(default_factory=list)
    reporter: str = ""
    delivery_ids: list[int] = field(default_factory=list)
    digest: str = ""

    @property
    def recognised(self) -> bool:
        return self.kind in (DSN, COMPLAINT, NONSTANDARD)


class UnreadableMessage(Exception):
    """The bytes are not an email message at all."""


def report_read(raw: bytes) -> Report:
    """Classify one message and list what it reports; UnreadableMessage for bytes that are no message."""
    if not raw.strip():
        raise UnreadableMessage("empty input")
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if not msg.keys():
        raise UnreadableMessage("no header fields")
    digest = hashlib.sha256(raw).hexdigest()
    reporter = _header(msg, "From")[:255]
    ids = delivery_ids_in(raw) or delivery_ids_in(_decoded_text(msg).encode("utf-8", "replace"))
    content_type = msg.get_content_type()
    report_type = str(msg.get_param("report-type") or "").lower() if content_type == "multipart/report" else ""
    if report_type == "delivery-status":
        items = _dsn_items(msg)
        return Report(kind=DSN, items=items, reporter=reporter, delivery_ids=ids, digest=digest)
    if report_type == "feedback-report":
        return Report(kind=COMPLAINT, items=_arf_items(msg), reporter=reporter, delivery_ids=ids, digest=digest)
    daemon = _from_daemon(msg)
    if not daemon and _is_auto_reply(msg):
        return Report(kind=AUTO_REPLY, reporter=reporter, digest=digest)
    if daemon:
        items = _nonstandard_items(msg)
        if items:
            return Report(kind=NONSTANDARD, items=items, reporter=reporter, delivery_ids=ids, digest=digest)
    return Report(kind=IGNORED, reporter=reporter, digest=digest)


def bounce_kind(status: str, smtp_code: str = "", diagnostic: str = "") -> str:
    """HARD or SOFT for an RFC 3463 status (or, lacking one, an SMTP reply code).

    Hard means the address itself is gone (5.1.x no such user or domain, 5.2.1 disabled, 5.5.x); a full
    mailbox (5.2.2), a size limit (5.3.4), a routing timeout (5.4.x) or a policy refusal of the content
    (5.7.x) says nothing final about the address, so they count as soft and suppress only when repeated.
    A diagnostic that says the mailbox does not exist is hard whatever the status: Yandex answers a missing
    user with "550 5.7.1 No such user!".
    """
    if _ADDRESS_GONE.search(diagnostic):
        return HARD
    match = _ENHANCED_STATUS.search(status)
    if match:
        klass, subject, detail = match.groups()
        if klass != "5":
            return SOFT
        if (subject, detail) in {("2", "2"), ("3", "4")} or subject in {"4", "7"}:
            return SOFT
        return HARD
    return HARD if smtp_code.startswith("5") else SOFT


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    return " ".join(str(email.header.make_header(email.header.decode_header(str(value)))).split())


def _address(value: str) -> str:
    """The address of a recipient field: `rfc822; user@example.com` or `<user@example.com>`."""
    if ";" in value:
        value = value.split(";", 1)[1]
    return parseaddr(value.strip())[1].strip().lower()


def _bounded(text: str) -> str:
    return " ".join(text.split())[:DIAGNOSTIC_MAX_CHARS]


def _dsn_items(msg: Message) -> list[ReportItem]:
    items: list[ReportItem] = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:  # the first block is per message (Reporting-MTA), the rest per recipient
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action") or "").strip().lower()
            if action != "failed":  # delayed, delivered, relayed, expanded: nothing final went wrong
                continue
            recipient = _address(str(block.get("Final-Recipient") or block.get("Original-Recipient") or ""))
            status = (str(block.get("Status") or "")).strip()
            diagnostic = str(block.get("Diagnostic-Code") or "")
            if ";" in diagnostic:
                diagnostic = diagnostic.split(";", 1)[1]
            diagnostic = _bounded(diagnostic)
            code = diagnostic[:3] if diagnostic[:3].isdigit() else ""
            if not recipient:
                continue
            items.append(
                ReportItem(
                    email=recipient,
                    kind=bounce_kind(status, code, diagnostic),
                    status=status[:16],
                    diagnostic=diagnostic,
                )
            )
    return items


def _original_headers(msg: Message) -> Message | None:
    for part in msg.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if content_type == "text/rfc822-headers":
            text = part.get_payload(decode=True) or b""
            return email.message_from_bytes(bytes(text), policy=email.policy.compat32)
    return None


def _arf_items(msg: Message) -> list[ReportItem]:
    feedback_type = "abuse"
    recipients: list[str] = []
    for part in msg.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        fields = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(fields, Message):
            feedback_type = str(fields.get("Feedback-Type") or feedback_type).strip().lower()
            recipients = [_address(str(value)) for value in fields.get_all("Original-Rcpt-To") or []]
    if not any(recipients):
        original = _original_headers(msg)
        if original is not None:
            recipients = [addr.lower() for _name, addr in getaddresses(original.get_all("To") or []) if addr]
    # A redacted report (Mail.ru, Yandex hide the address) still names the delivery by our Message-ID.
    recipients = [r for r in recipients if r] or [""]
    return [ReportItem(email=r, kind=COMPLAINT, status="", diagnostic=_bounded(feedback_type)) for r in recipients]


def _from_daemon(msg: Message) -> bool:
    if msg.get("X-Failed-Recipients"):
        return True
    for name in ("From", "Return-Path", "Sender"):
        address = parseaddr(str(msg.get(name) or ""))[1].lower()
        if address and address.split("@", 1)[0] in _DAEMON_LOCAL_PARTS:
            return True
    return str(msg.get("Return-Path") or "").strip() == "<>"


def _is_auto_reply(msg: Message) -> bool:
    auto_submitted = str(msg.get("Auto-Submitted") or "").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if any(msg.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")):
        return True
    if str(msg.get("Precedence") or "").strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_REPLY_SUBJECTS.search(_header(msg, "Subject")))


def _decoded_text(msg: Message) -> str:
    texts: list[str] = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() not in ("text", "message"):
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(texts)


def _nonstandard_items(msg: Message) -> list[ReportItem]:
    """A mailer daemon's own format: flufl.bounce finds the addresses, the text gives the diagnostic."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector tripping over a malformed message must not stop the poll
        logger.warning("bounce detectors failed on a message", exc_info=True)
        return []
    text = _decoded_text(msg)
    items: list[ReportItem] = []
    for addresses, default_kind in ((permanent, HARD), (temporary, SOFT)):
        for raw_address in sorted(addresses):
            address = raw_address.decode("utf-8", "replace").strip().strip("<>").lower()
            if not address or "@" not in address:
                continue
            diagnostic, status, code = _diagnostic_near(text, address)
            kind = bounce_kind(status, code, diagnostic) if (status or code) else default_kind
            if default_kind == SOFT and kind == HARD:
                kind = SOFT  # the detector saw a warning ("still trying"), whatever code it quotes
            items.append(ReportItem(email=address, kind=kind, status=status, diagnostic=diagnostic))
    return items


def _diagnostic_near(text: str, address: str) -> tuple[str, str, str]:
    """(the SMTP reply line quoted after the address, or the first one; its enhanced status; its code)."""
    position = text.lower().find(address)
    candidates = [text[position:], text] if position >= 0 else [text]
    for chunk in candidates:
        match = _SMTP_REPLY_LINE.search(chunk)
        if match:
            line = _bounded(match.group(0))
            status = _ENHANCED_STATUS.search(line)
            return line, status.group(0) if status else "", match.group(1)
    return "", "", ""
