"""Every message type's wire format, captured from a real aiosmtpd server (issue 17: wire format)."""

import email
import email.policy
import re
from email.header import decode_header, make_header
from typing import Any

import pytest
from django.core import checks
from django.test import Client
from django.urls import reverse

from mailings.checks import mail_domains_check
from mailings.delivery.compose import MessageComposer, encode_address_header, encode_header
from mailings.delivery.engine import StopReason, attempt_deliver
from mailings.models import Message, Recipient
from mailings.tests.sending_support import make_run
from tests.support import SmtpServer, run_tasks, wire_format_problems
from users.models import User

pytestmark = pytest.mark.django_db

LONG_NAME = "Константин Константинович Константинопольский-Длинноимённый, заведующий отделом"
LONG_PARAGRAPH = "Вестник пишет длинный абзац по-русски, чтобы проверить длину строк. " * 20


def _parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _rfc2047_decoded(raw: bytes, name: str) -> str:
    """The header as RFC 2047 reads it (Python's address parser adds a space between encoded words)."""
    head = raw.partition(b"\r\n\r\n")[0].decode("ascii")
    match = re.search(rf"^{name}: (.*?)\r\n(?![ \t])", head, re.MULTILINE | re.DOTALL)
    assert match is not None
    return str(make_header(decode_header(re.sub(r"\r\n[ \t]", " ", match[1]))))


def test_a_mailing_keeps_every_line_within_the_limits(server: SmtpServer, owner: User, settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = "Вестник <news@mail.example.org>"
    mailing, attempt = make_run(owner, ["a@example.com"], names=[LONG_NAME])
    Message.objects.filter(pk=mailing.message_id).update(
        subject="Очень длинная тема письма о новостях недели, событиях и планах на следующий месяц, " * 2,
        body=LONG_PARAGRAPH + "\n.Точка в начале строки",
    )

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE

    (received,) = server.messages
    assert wire_format_problems(received.raw) == []
    message = _parsed(received.raw)
    assert str(message["Subject"]).startswith("Очень длинная тема письма")
    assert _rfc2047_decoded(received.raw, "To") == f"{LONG_NAME} <a@example.com>"
    assert message.get_content_type() == "text/plain"
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    body, footer = message.get_content().replace("\r\n", "\n").split("\n\n-- \n")
    assert body == LONG_PARAGRAPH + "\n.Точка в начале строки"
    assert footer.startswith("Отписаться от рассылки: http://127.0.0.1:8000/unsubscribe/")
    assert received.mail_options == []  # 7-bit: no BODY=8BITMIME needed


def test_ehlo_and_message_id_use_the_from_domain_by_default(server: SmtpServer, owner: User, settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = "Вестник <news@mail.example.org>"
    _mailing, attempt = make_run(owner, ["a@example.com"])

    attempt_deliver(attempt_id=attempt.pk)

    (received,) = server.messages
    assert received.helo == "mail.example.org"
    assert _parsed(received.raw)["Message-ID"].endswith("@mail.example.org>")


def test_ehlo_and_message_id_domains_come_from_their_settings(server: SmtpServer, owner: User, settings: Any) -> None:
    settings.EMAIL_HELO_DOMAIN = "mx1.example.net"
    settings.MESSAGE_ID_DOMAIN = "ids.example.net"
    _mailing, attempt = make_run(owner, ["a@example.com"])

    attempt_deliver(attempt_id=attempt.pk)

    (received,) = server.messages
    assert received.helo == "mx1.example.net"
    assert _parsed(received.raw)["Message-ID"].endswith("@ids.example.net>")


def test_a_mailing_carries_the_list_headers(server: SmtpServer, owner: User, settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = "news@example.org"
    mailing, attempt = make_run(owner, ["a@example.com"])

    attempt_deliver(attempt_id=attempt.pk)

    message = _parsed(server.messages[0].raw)
    assert message["List-Id"] == f"<mailing-{mailing.pk}.example.org>"
    assert message["Precedence"] == "bulk"
    assert message["Feedback-ID"] == f"{mailing.pk}:{owner.pk}:mailing:vestnik"
    assert re.fullmatch(r"\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000", message["Date"])
    assert "Auto-Submitted" not in message


def test_an_account_email_is_auto_submitted_and_within_the_limits(
    client: Client, smtp_server: SmtpServer, transactional_db: None, settings: Any
) -> None:
    settings.DEFAULT_FROM_EMAIL = "Вестник <noreply@mail.example.org>"
    client.post(
        reverse("users:register"),
        {
            "email": "long@example.com",
            "first_name": "Анна",
            "last_name": "Петрова",
            "password1": "a-long-Unusual-passphrase-42",
            "password2": "a-long-Unusual-passphrase-42",
        },
    )
    run_tasks()

    (received,) = smtp_server.messages
    assert wire_format_problems(received.raw) == []
    assert received.helo == "mail.example.org"
    message = _parsed(received.raw)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@mail.example.org>")
    assert message.get_content_type() == "multipart/alternative"
    assert "Подтвердите адрес" in received.subject
    assert "/accounts/confirm/" in received.text and "/accounts/confirm/" in received.html


@pytest.mark.parametrize(
    "value", ["Тема", "A" * 10 + " " + "Б" * 200, "ascii words " * 20, "смесь ascii и кириллицы 😀 " * 9]
)
def test_headers_fold_into_short_encoded_words(value: str) -> None:
    head = encode_header("Subject", value) + encode_address_header("To", value, "a@example.com")
    raw = (head + "Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\nx\r\n").encode("ascii")

    assert wire_format_problems(raw) == []
    message = _parsed(raw)
    assert str(message["Subject"]) == " ".join(value.split())


def test_a_composer_body_line_never_passes_76_characters() -> None:
    composer = MessageComposer(
        from_email="a@example.com",
        subject="s",
        body="x" * 3000 + "\n" + "я" * 3000 + "\n\tтаб в начале  \n",
        body_format="markdown",
        msgid_domain="example.com",
    )
    _to, data, _mid = composer.build(email="b@example.com", full_name="")

    assert wire_format_problems(data) == []


@pytest.mark.parametrize("domain", ["vestnik.local", "localhost", "box"])
def test_check_deploy_warns_about_a_local_mail_domain(settings: Any, domain: str) -> None:
    settings.DEFAULT_FROM_EMAIL = f"noreply@{domain}"

    ids = {w.id for w in mail_domains_check()}

    assert ids == {"mailings.W001", "mailings.W002"}
    assert all(w.level == checks.WARNING for w in mail_domains_check())


def test_check_deploy_is_quiet_for_a_public_domain(settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = "noreply@mail.example.org"

    assert mail_domains_check() == []


def test_a_markdown_mailing_is_personalised_per_recipient(server: SmtpServer, owner: User, settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = "Vestnik <news@mail.example.org>"
    mailing, attempt = make_run(owner, ["a@example.com", "b@example.com"], names=["Анна", ""])
    Recipient.objects.filter(email="a@example.com").update(comment="постоянный <клиент>")
    Message.objects.filter(pk=mailing.message_id).update(
        subject='{{ имя|default:"Друг" }}, новости',
        format="markdown",
        body='## Привет, {{ имя|default:"клиент" }}\n\n' + LONG_PARAGRAPH + "\n\nВы: {{ комментарий }}",
    )

    attempt_deliver(attempt_id=attempt.pk)

    (anna,) = server.handler.to("a@example.com")
    (other,) = server.handler.to("b@example.com")
    for received in (anna, other):
        assert wire_format_problems(received.raw) == []
        assert received.parsed.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in received.parsed.iter_parts()] == ["text/plain", "text/html"]
    assert anna.subject == "Анна, новости" and other.subject == "Друг, новости"
    assert "Привет, Анна" in anna.text and "Вы: постоянный <клиент>" in anna.text
    assert "Привет, Анна</h2>" in anna.html and "постоянный &lt;клиент&gt;" in anna.html
    assert "Привет, клиент" in other.text and "Привет, клиент</h2>" in other.html


def test_the_owners_sender_name_and_reply_to_are_used(server: SmtpServer, owner: User, settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = "Vestnik <news@mail.example.org>"
    User.objects.filter(pk=owner.pk).update(sender_name="Магазин «Ромашка»", reply_to="shop@romashka.example")
    _mailing, attempt = make_run(owner, ["a@example.com"])

    attempt_deliver(attempt_id=attempt.pk)

    (received,) = server.messages
    message = _parsed(received.raw)
    assert message["From"].addresses[0].display_name == "Магазин «Ромашка»"
    assert message["From"].addresses[0].addr_spec == "news@mail.example.org"  # the account's address stays
    assert str(message["Reply-To"]) == "shop@romashka.example"
    assert received.mail_from == "news@mail.example.org"


def test_the_backend_leaves_what_vestnik_never_sends_to_django(smtp_server: SmtpServer, settings: Any) -> None:
    from django.core.mail import EmailMessage

    settings.DEFAULT_FROM_EMAIL = "news@mail.example.org"
    EmailMessage("Тема", "Текст", to=["a@example.com"], cc=["b@example.com"], reply_to=["r@example.com"]).send()
    EmailMessage("Тема", "Текст", to=["c@example.com"]).send()

    with_cc, plain = smtp_server.messages
    assert sorted(with_cc.rcpt_tos) == ["a@example.com", "b@example.com"]
    assert with_cc.parsed["Reply-To"] == "r@example.com"
    assert with_cc.helo == "mail.example.org"  # Django's building, still our EHLO name
    assert wire_format_problems(plain.raw) == []
