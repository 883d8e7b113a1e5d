"""Building the message for one recipient: one address in To:, its own Message-ID.

Everything that is the same for every recipient of a run (sender, list headers, the rendered body
with its placeholders) is prepared once in `MessageComposer.__init__`; `build` fills in the
recipient's values and encodes. The wire format is written here by hand rather than by Python's
email package, both for speed (the email package is the bottleneck on loopback:
docs/delivery-engine.md, Throughput) and because its output broke the limits below:

- headers: RFC 2047 encoded words of at most 75 characters, every header line within 78;
- bodies: quoted-printable, lines of at most 76 characters (RFC 2045), so every message is 7-bit and
  the MAIL command never needs BODY=8BITMIME;
- `Date` in +0000; EHLO and Message-ID domains from settings (`helo_domain`, `message_id_domain`);
- `List-Id`, `Precedence: bulk` and `Feedback-ID` per mailing.
"""

import base64
import binascii
import hmac
import html
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import TYPE_CHECKING

import email_validator
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext

from mailings.content.placeholders import Template, parse_or_literal
from mailings.content.render import FORMAT_MARKDOWN, FORMAT_PLAIN, render_body
from mailings.delivery.reasons import Reason, reason
from mailings.delivery.signing import DkimConfigError, DkimKey, dkim_key

if TYPE_CHECKING:
    from mailings.models import Mailing, Message

# Names are cosmetic: control characters (CR/LF header injection, \x0b, \x1c-\x1e) are replaced
# rather than failing the recipient.
_NAME_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\"]+")
_HEADER_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")

# RFC 5322 2.1.1: lines SHOULD be at most 78 characters; RFC 2047 2: an encoded word at most 75.
HEADER_LINE = 78
_WORD_OVERHEAD = len("=?utf-8?b??=")
_WORD_BYTES = (75 - _WORD_OVERHEAD) // 4 * 3  # 45 bytes of UTF-8 in one base64 word

# The header that marks a test send (and the subject prefix): such messages are never a mailing's.
TEST_HEADER = "X-Vestnik-Test"


class BuildError(Exception):
    """The message for this recipient cannot be built (bad address or header); `reason` says why."""

    def __init__(self, why: Reason) -> None:
        super().__init__(str(why))
        self.reason = why


def clean_display_name(name: str) -> str:
    return " ".join(_NAME_JUNK.sub(" ", name).split())[:200]


def clean_header_text(text: str) -> str:
    return " ".join(_HEADER_JUNK.sub(" ", text).split())


def smtp_address(email: str, *, utf8: bool = False) -> str:
    """The envelope address, or BuildError. The domain always goes as punycode; a non-ASCII local part
    (RFC 6531) only with `utf8`, that is when the server offered SMTPUTF8 (mailings/delivery/smtp.py)."""
    email = email.strip()
    local = email.rpartition("@")[0]
    if local and not local.isascii():
        # A recipient may be stored with one (core/email_addresses.py); without SMTPUTF8 say why it cannot go out.
        if not utf8:
            raise BuildError(reason("non_ascii_address"))
        return _utf8_address(email)
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


def _utf8_address(email: str) -> str:
    """`local@domain` with the local part in UTF-8 (NFC) and the domain as punycode, validated by the RFCs
    (Django's validator refuses any non-ASCII local part); nothing that could break the command line passes."""
    try:
        info = email_validator.validate_email(
            email, check_deliverability=False, allow_smtputf8=True, allow_quoted_local=False, allow_domain_literal=False
        )
    except email_validator.EmailNotValidError as exc:
        raise BuildError(reason("bad_address")) from exc
    return f"{info.local_part}@{info.ascii_domain}"


def needs_smtputf8(address: str) -> bool:
    """An envelope address from `smtp_address(..., utf8=True)` that only a server offering SMTPUTF8 takes."""
    return not address.isascii()


def _domain_of(from_email: str) -> str:
    address = parseaddr(from_email)[1] or from_email
    domain = address.rpartition("@")[2].strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def helo_domain() -> str:
    """The name Vestnik gives in EHLO: EMAIL_HELO_DOMAIN, by default the From address's domain.

    Not the machine's host name: that is `localhost` or a container hash, which receiving servers
    score as spam (HELO_LOCALHOST, FSL_HELO_NON_FQDN_1). `core.checks` warns about `.local` names.
    """
    return str(settings.EMAIL_HELO_DOMAIN or _domain_of(settings.DEFAULT_FROM_EMAIL))


def _delivery_signature(delivery_id: int) -> str:
    return salted_hmac("vestnik:delivery-message-id", str(delivery_id), algorithm="sha256").hexdigest()[:16]


def delivery_message_id(*, delivery_id: int, domain: str) -> str:
    """A Message-ID that names its delivery: `<v1.d<id>.<signature>.<random>@domain>`.

    The signature (HMAC of the id with SECRET_KEY) makes a forged report unable to name someone else's
    delivery; the random part keeps every retry's Message-ID unique.
    """
    return f"<v1.d{delivery_id}.{_delivery_signature(delivery_id)}.{secrets.token_hex(6)}@{domain}>"


_DELIVERY_MESSAGE_ID = re.compile(rb"<v1\.d(\d{1,18})\.([0-9a-f]{16})\.[0-9a-f]+@[^>\s]+>")


def delivery_ids_in(data: bytes) -> list[int]:
    """The delivery ids named by genuine (correctly signed) Message-IDs of ours anywhere in `data`, in order."""
    found: list[int] = []
    for match in _DELIVERY_MESSAGE_ID.finditer(data):
        delivery_id = int(match.group(1))
        if hmac.compare_digest(match.group(2).decode(), _delivery_signature(delivery_id)) and delivery_id not in found:
            found.append(delivery_id)
    return found


def message_id_domain() -> str:
    """The right-hand side of Message-IDs: MESSAGE_ID_DOMAIN, by default the From address's domain."""
    return str(settings.MESSAGE_ID_DOMAIN or _domain_of(settings.DEFAULT_FROM_EMAIL))


def _encoded_words(text: str, first_bytes: int) -> list[str]:
    """`text` as base64 encoded words of at most 75 characters, never splitting a character.

    A word ends after a space where it can: the space stays inside the word (RFC 2047 drops the
    whitespace between words), and decoders that wrongly add a space there (Python's own, in
    address headers) then show a doubled space rather than a name cut in two.
    """
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    limit = max(3, min(first_bytes, _WORD_BYTES))
    for char in text:
        n = len(char.encode("utf-8"))
        if chunk and size + n > limit:
            cut = len(chunk)
            if " " in chunk[1:]:
                cut = len(chunk) - chunk[::-1].index(" ")
            words.append(f"=?utf-8?b?{base64.b64encode(''.join(chunk[:cut]).encode()).decode('ascii')}?=")
            chunk, limit = chunk[cut:], _WORD_BYTES
            size = len("".join(chunk).encode("utf-8"))
            if size + n > limit:
                words.append(f"=?utf-8?b?{base64.b64encode(''.join(chunk).encode()).decode('ascii')}?=")
                chunk, size = [], 0
        chunk.append(char)
        size += n
    if chunk or not words:
        words.append(f"=?utf-8?b?{base64.b64encode(''.join(chunk).encode()).decode('ascii')}?=")
    return words


def _fold(name: str, tokens: Sequence[str]) -> str:
    """`Name: tokens` folded before a token whenever the line would pass 78 characters; CRLF-ended.

    A token too long for any line (a List-Unsubscribe URL with its token) gets a continuation line of its
    own, right after the name if need be: RFC 5322 allows up to 998 characters where no fold is possible.
    """
    lines: list[str] = []
    line = f"{name}:"
    for token in tokens:
        alone = len(token) + 1 > HEADER_LINE - len(name) - 1
        if len(line) + 1 + len(token) > HEADER_LINE and (line != f"{name}:" or alone):
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _needs_encoding(text: str) -> bool:
    return not text.isascii() or "=?" in text


def encode_header(name: str, value: str) -> str:
    """An unstructured header (Subject) as folded lines; non-ASCII text as encoded words."""
    value = clean_header_text(value)
    if not _needs_encoding(value):
        return _fold(name, value.split(" ") if value else [""])
    first = (HEADER_LINE - len(name) - 2 - _WORD_OVERHEAD) // 4 * 3
    return _fold(name, _encoded_words(value, first))


def encode_address_header(name: str, display_name: str, address: str) -> str:
    """`Name: display name <address>`; the address was validated, the name cleaned (no injection)."""
    display_name = clean_display_name(display_name)
    if not display_name:
        return _fold(name, [address])
    if not _needs_encoding(display_name):
        # formataddr quotes a name with specials ("Ivanov, I.") as RFC 5322 requires.
        # (Only the phrase is kept: formataddr refuses a non-ASCII address, which RFC 6532 allows here.)
        phrase = formataddr((display_name, "a@b")).rsplit(" <", 1)[0]
        return _fold(name, [*phrase.split(" "), f"<{address}>"])
    first = (HEADER_LINE - len(name) - 2 - _WORD_OVERHEAD) // 4 * 3
    return _fold(name, [*_encoded_words(display_name, first), f"<{address}>"])


def sender_from(*, from_email: str, display_name: str = "") -> tuple[str, str]:
    """(display name, address) of the From header: the address is always the SMTP account's own
    (`from_email`, so SPF and DKIM stay aligned); an owner's display name replaces the account's."""
    account_name, address = parseaddr(from_email)
    return (display_name or account_name), (address or from_email)


def quoted_printable(text: str) -> bytes:
    """UTF-8 text as quoted-printable with CRLF line ends and lines of at most 76 characters."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).replace(b"\n", b"\r\n")


def _ascii(text: str) -> bytes:
    return text.encode("ascii")


def mime_body(*, text: str, html: str | None, boundary: str) -> bytes:
    """Content-Type and body: one text/plain part, or multipart/alternative of text and HTML (RFC 2046:
    the preferred part last), all quoted-printable."""
    return mime_body_encoded(
        text=quoted_printable(text), html=quoted_printable(html) if html is not None else None, boundary=boundary
    )


def mime_body_encoded(*, text: bytes, html: bytes | None, boundary: str) -> bytes:
    """`mime_body` of parts already quoted-printable."""
    qp_head = b'; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    if html is None:
        return b"Content-Type: text/plain" + qp_head + text
    b = _ascii(boundary)
    return b"".join(
        [
            b'Content-Type: multipart/alternative;\r\n boundary="' + b + b'"\r\n\r\n',
            b"--" + b + b"\r\nContent-Type: text/plain" + qp_head,
            text,
            b"\r\n--" + b + b"\r\nContent-Type: text/html" + qp_head,
            html,
            b"\r\n--" + b + b"--\r\n",
        ]
    )


def _encoded_head(template: Template) -> tuple[bytes, Template]:
    """(the template's static lines before its first placeholder, quoted-printable; the rest as a template).

    Quoted-printable encodes line by line, so a body is its encoded head followed by its encoded rest when the
    head ends with a line break. A footer that carries the unsubscribe link (the only per-recipient value of most
    bodies) then costs one line's encoding per message, not the whole body's.
    """
    static: list[str] = []
    for part in template.parts:
        if not isinstance(part, str):
            break
        static.append(part)
    head = "".join(static)
    cut = head.rfind("\n") + 1
    rest = template.parts[len(static) :]
    if head[cut:]:
        rest = (head[cut:], *rest)
    return quoted_printable(head[:cut]), Template(parts=tuple(rest))


def new_boundary() -> str:
    # "=_" never occurs in quoted-printable text ("=" is always encoded as =3D): a safe boundary.
    return f"=_vestnik_{secrets.token_hex(12)}"


def date_header(second: int) -> str:
    """RFC 5322 date in UTC as +0000 (formatdate's -0000 means "time zone unknown")."""
    return format_datetime(datetime.fromtimestamp(second, UTC))


def standalone_message(
    *,
    from_email: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
) -> tuple[bytes, str]:
    """(bytes, Message-ID) of a message outside mailings (account emails): the same wire format."""
    name, address = parseaddr(from_email)
    message_id = make_msgid(domain=message_id_domain())
    lines = [encode_address_header("From", name, smtp_address(address or from_email))]
    recipients = [parseaddr(t) for t in to]
    if len(recipients) == 1:
        lines.append(encode_address_header("To", recipients[0][0], smtp_address(recipients[0][1])))
    else:
        lines.append(
            _fold("To", [smtp_address(a) + "," for _n, a in recipients[:-1]] + [smtp_address(recipients[-1][1])])
        )
    lines.append(encode_header("Subject", subject))
    lines.append(f"Date: {date_header(int(time.time()))}\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\n")
    lines.extend(encode_header(h, v) for h, v in headers)
    data = _ascii("".join(lines)) + mime_body(text=text, html=html, boundary=new_boundary())
    key = dkim_key()  # DkimConfigError: the account email fails loudly, the task logs why
    return (key.sign(data) if key is not None else data), message_id


class MessageComposer:
    """One run's messages: prepared once, `build` per recipient (fast: no email package on the path).

    Per-recipient values: `email`, `full_name`, `comment`, and `unsubscribe_url` with `extra_headers`
    (the List-Unsubscribe headers), which the engine builds per message (suppressions/links.py).
    """

    def __init__(
        self,
        *,
        from_email: str,
        subject: str,
        body: str,
        msgid_domain: str,
        body_format: str = FORMAT_PLAIN,
        from_name: str = "",
        reply_to: str = "",
        headers: Sequence[tuple[str, str]] = (),
        comments: Mapping[str, str] | None = None,
        test: bool = False,
    ) -> None:
        self.msgid_domain = msgid_domain
        self.comments = comments or {}
        self.test = test
        self._error: Reason | None = None
        self._date_second = -1
        self._date = ""
        self.subject = parse_or_literal(clean_header_text(subject))
        if test:
            self.subject = Template(parts=(gettext("[Тест] "), *self.subject.parts))
        try:
            rendered = render_body(body=body, format=body_format)
        except Exception as exc:  # a message that cannot be rendered fails its recipients, not the worker
            self._error = reason("message_unbuildable", error=exc)
            rendered = render_body(body="", format=FORMAT_PLAIN)
        self.text: Template = rendered.text
        self.html: Template | None = rendered.html
        self.warnings = rendered.warnings
        self.uses = self.subject.fields | self.text.fields | (self.html.fields if self.html else frozenset())
        common = []
        try:
            name, address = sender_from(from_email=from_email, display_name=from_name)
            common.append(encode_address_header("From", name, smtp_address(address)))
            if reply_to:
                reply_name, reply_address = parseaddr(reply_to)
                common.append(encode_address_header("Reply-To", reply_name, smtp_address(reply_address)))
            if self.subject.is_static:
                common.append(encode_header("Subject", self.subject.render({})))
            common.append("MIME-Version: 1.0\r\n")
            for header, value in headers:
                common.append(encode_header(header, value))
            if test:
                common.append(f"{TEST_HEADER}: yes\r\n")
        except BuildError as exc:
            self._error = reason("message_unbuildable", error=exc.reason)
        self._common = _ascii("".join(common))
        self._boundary = new_boundary()
        self._dkim: DkimKey | None = None
        try:
            self._dkim = dkim_key()
        except DkimConfigError as exc:
            self._error = reason("message_unbuildable", error=str(exc))
        self._text_head, self._text_rest = _encoded_head(self.text)
        self._html_head: bytes = b""
        self._html_rest: Template | None = None
        if self.html is not None:
            self._html_head, self._html_rest = _encoded_head(self.html)
        self._static_body = None if self.text.fields or (self.html and self.html.fields) else self._body({})

    def _now_date(self) -> str:
        second = int(time.time())
        if second != self._date_second:
            self._date_second = second
            self._date = date_header(second)
        return self._date

    def values(self, *, email: str, full_name: str, comment: str | None = None, unsubscribe_url: str = "") -> dict:
        if comment is None and "comment" in self.uses:
            comment = self.comments.get(email.strip().lower(), "")
        return {"name": full_name, "email": email, "comment": comment or "", "unsubscribe_url": unsubscribe_url}

    def render(self, values: Mapping[str, str]) -> tuple[str, str, str | None]:
        """(subject, text, html or None) for these values, as the recipient reads them."""
        html_part = None
        if self.html is not None:
            html_part = self.html.render({k: html.escape(v) for k, v in values.items()})
        return clean_header_text(self.subject.render(values)), self.text.render(values), html_part

    def _body(self, values: Mapping[str, str]) -> bytes:
        """`mime_body` of the rendered parts; the static head of each part is encoded once (`_encoded_head`)."""
        text = self._text_head + quoted_printable(self._text_rest.render(values))
        html_part = None
        if self._html_rest is not None:
            escaped = {k: html.escape(v) for k, v in values.items()}
            html_part = self._html_head + quoted_printable(self._html_rest.render(escaped))
        return mime_body_encoded(text=text, html=html_part, boundary=self._boundary)

    def build(
        self,
        *,
        email: str,
        full_name: str,
        comment: str | None = None,
        unsubscribe_url: str = "",
        extra_headers: Sequence[tuple[str, str]] = (),
        smtputf8: bool = False,
        delivery_id: int | None = None,
    ) -> tuple[str, bytes, str]:
        """Returns (envelope address, message bytes with CRLF line ends, Message-ID); BuildError if impossible.

        With `smtputf8` a recipient with a non-ASCII local part is built too: its To header carries the address
        in UTF-8 (RFC 6532), so the message may go only with SMTPUTF8 (`needs_smtputf8` of the address).
        With `delivery_id` the Message-ID names the delivery, signed (`delivery_message_id`), so that a bounce
        report quoting it finds its delivery without a lookup by Message-ID (bounces/matching.py).
        """
        if self._error is not None:
            raise BuildError(self._error)
        to_addr = smtp_address(email, utf8=smtputf8)
        message_id = (
            delivery_message_id(delivery_id=delivery_id, domain=self.msgid_domain)
            if delivery_id is not None
            else make_msgid(domain=self.msgid_domain)
        )
        values = self.values(email=to_addr, full_name=full_name, comment=comment, unsubscribe_url=unsubscribe_url)
        try:
            head = [
                encode_address_header("To", full_name, to_addr),
                f"Date: {self._now_date()}\r\nMessage-ID: {message_id}\r\n",
            ]
            if not self.subject.is_static:
                head.append(encode_header("Subject", self.subject.render(values)))
            head.extend(encode_header(name, value) for name, value in extra_headers)
            body = self._static_body if self._static_body is not None else self._body(values)
            head_text = "".join(head)
            # Only an SMTPUTF8 recipient's own To header is 8-bit; every other message stays 7-bit.
            data = (_ascii(head_text) if to_addr.isascii() else head_text.encode("utf-8")) + self._common + body
        except (ValueError, UnicodeError) as exc:
            raise BuildError(reason("header_unbuildable", error=exc)) from exc
        if self._dkim is not None:
            data = self._dkim.sign(data)
        return to_addr, data, message_id


def mailing_headers(*, mailing_id: int, owner_id: int) -> list[tuple[str, str]]:
    """List-Id (RFC 2919), Precedence and a Feedback-ID (Gmail's per-campaign complaint report key)."""
    domain = message_id_domain()
    return [
        ("List-Id", f"<mailing-{mailing_id}.{domain}>"),
        ("Precedence", "bulk"),
        ("Feedback-ID", f"{mailing_id}:{owner_id}:mailing:vestnik"),
    ]


def body_with_unsubscribe_footer(*, body: str, body_format: str, language: str = "") -> str:
    """The owner's body, with a footer carrying `{{ ссылка_отписки }}` unless the body places the link itself.

    The footer is in `language`: the owner's language of letters (User.language, the one their own emails are
    in, so the language they write their mailings in), the service's LANGUAGE_CODE when empty. The text and
    the HTML part are both rendered from this one body, so both carry it in that language.
    """
    if "unsubscribe_url" in parse_or_literal(body).fields:
        return body
    with translation.override(language or settings.LANGUAGE_CODE):
        label = gettext("Отписаться от рассылки")
    if body_format == FORMAT_MARKDOWN:
        return f"{body.rstrip()}\n\n---\n\n[{label}]({{{{ ссылка_отписки }}}})\n"
    return f"{body.rstrip()}\n\n-- \n{label}: {{{{ ссылка_отписки }}}}\n"


def composer_for_message(
    *,
    message: "Message",
    headers: Sequence[tuple[str, str]] = (),
    test: bool = False,
    from_email: str = "",
    reply_to: str = "",
    unsubscribe_footer: bool = False,
) -> MessageComposer:
    """The composer of a message as its owner sends it: the owner's sender name and Reply-To.

    `from_email` and `reply_to` are the sending account's (mailings/delivery/accounts.py; the service's
    DEFAULT_FROM_EMAIL by default): the address stays the account's, the owner's name and Reply-To win.
    `unsubscribe_footer`: the body gets the unsubscribe link unless it places `{{ ссылка_отписки }}` itself.
    """
    owner = message.owner
    body = message.body
    if unsubscribe_footer:
        body = body_with_unsubscribe_footer(body=body, body_format=message.format, language=owner.language)
    return MessageComposer(
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        from_name=owner.sender_name,
        reply_to=owner.reply_to or reply_to,
        subject=message.subject,
        body=body,
        body_format=message.format,
        msgid_domain=message_id_domain(),
        headers=headers,
        test=test,
    )


def composer_for_mailing(*, mailing: "Mailing", from_email: str = "", reply_to: str = "") -> MessageComposer:
    """The composer of a mailing's run: the message, its owner's sender, its account's From and the list headers."""
    from mailings.models import Recipient

    composer = composer_for_message(
        message=mailing.message,
        headers=mailing_headers(mailing_id=mailing.pk, owner_id=mailing.owner_id),
        from_email=from_email,
        reply_to=reply_to,
        unsubscribe_footer=True,
    )
    if "comment" in composer.uses:
        # One query per run, only when the message uses comments (Delivery rows snapshot name and email only).
        composer.comments = {
            email.lower(): comment
            for email, comment in Recipient.objects.filter(mailings=mailing).values_list("email", "comment")
        }
    return composer
