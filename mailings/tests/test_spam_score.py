"""Every message type scored by SpamAssassin's local rules (`spamassassin -L -t`): at most 0.0 (issue 17).

Each message is captured from a real SMTP server and given the Received line a receiving server would
write for the EHLO name Vestnik actually used. Skipped where SpamAssassin is not installed (Debian:
`apt-get install spamassassin`; `.ci/run` installs it when it runs as root).
"""

import re
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mailings.delivery.engine import attempt_deliver
from mailings.models import Message
from mailings.tests.sending_support import make_run
from tests.support import ReceivedMessage, SmtpServer, run_tasks
from users.models import User

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("spamassassin") is None, reason="spamassassin is not installed (Debian package)"),
]

FROM = "Вестник <news@vestnik-mail.ru>"
BODY = (
    '# Здравствуйте, {{ имя|default:"клиент" }}!\n\n'
    "На этой неделе мы обновили сервис: письма можно оформлять, просматривать и отправлять себе на проверку.\n\n"
    "- Оформление\n- Персонализация\n- Предпросмотр\n\n"
    "Подробности на [сайте](https://vestnik-mail.ru/news/).\n\nС уважением, команда Вестника."
)


def _score(received: ReceivedMessage, *, helo: str | None = None) -> float:
    helo = helo or received.helo
    # What the recipient's server would prepend: the client's EHLO name, its address and reverse DNS.
    line = (
        f"Received: from {helo} ({helo} [93.184.216.34])\r\n\tby mx.example.com with ESMTP id 4AbC12\r\n"
        f"\tfor <{received.rcpt_tos[0]}>; {format_datetime(datetime.now(UTC))}\r\n"
    )
    result = subprocess.run(
        ["spamassassin", "-L", "-t"], input=line.encode() + received.raw, capture_output=True, timeout=120, check=True
    )
    match = re.search(rb"Content analysis details:\s+\((-?[\d.]+) points", result.stdout)
    assert match is not None, result.stdout[-2000:]
    return float(match[1])


@pytest.fixture
def sender(settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = FROM


def test_a_personalised_markdown_mailing_scores_at_most_zero(server: SmtpServer, owner: User, sender: None) -> None:
    mailing, attempt = make_run(owner, ["ivan@example.com"], names=["Иван Петров"])
    Message.objects.filter(pk=mailing.message_id).update(
        subject="Новости недели, {{ имя }}", body=BODY, format="markdown"
    )

    attempt_deliver(attempt_id=attempt.pk)

    (received,) = server.messages
    assert received.helo == "vestnik-mail.ru"
    assert _score(received) <= 0.0
    # The check can fail: the same message from a machine that calls itself localhost scores as spam.
    assert _score(received, helo="localhost") > 5.0


def test_a_plain_mailing_scores_at_most_zero(server: SmtpServer, owner: User, sender: None) -> None:
    _mailing, attempt = make_run(owner, ["ivan@example.com"], names=["Иван Петров"])

    attempt_deliver(attempt_id=attempt.pk)

    assert _score(server.messages[0]) <= 0.0


def test_a_test_send_scores_at_most_zero(client: Client, smtp_server: SmtpServer, owner: User, sender: None) -> None:
    message = Message.objects.create(owner=owner, subject="Новости недели", body=BODY, format="markdown")
    client.force_login(owner)
    client.post(reverse("mailings:message_test_send", args=[message.pk]))
    run_tasks()

    (received,) = smtp_server.messages
    assert _score(received) <= 0.0


def test_account_emails_score_at_most_zero(
    client: Client, smtp_server: SmtpServer, sender: None, settings: Any
) -> None:
    suffix = uuid.uuid4().hex[:8]
    client.post(
        reverse("users:register"),
        {
            "email": f"anna.{suffix}@example.com",
            "first_name": "Анна",
            "last_name": "Петрова",
            "password1": "a-long-Unusual-passphrase-42",
            "password2": "a-long-Unusual-passphrase-42",
        },
    )
    User.objects.create_user(email=f"reset.{suffix}@example.com", password="x-Long-passphrase-1")
    # Earlier committing tests' requests stay counted in the database cache this hour (per client address, and
    # per address for the usual test addresses): fresh addresses and no per-client limit here.
    settings.PASSWORD_RESET_PER_IP = 0
    client.post(reverse("users:password_reset"), {"email": f"reset.{suffix}@example.com"})
    run_tasks()

    confirmation, reset = sorted(smtp_server.messages, key=lambda m: m.rcpt_tos[0])
    assert "Подтвердите адрес" in confirmation.subject
    assert _score(confirmation) <= 0.0
    assert _score(reset) <= 0.0
