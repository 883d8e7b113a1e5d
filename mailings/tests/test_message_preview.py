"""The preview page, its sandboxed HTML, and the test send (issue 17)."""

from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from mailings.delivery.compose import TEST_HEADER
from mailings.models import Attempt, Delivery, Message, Recipient
from tests.support import SmtpServer, run_tasks, wire_format_problems
from users.models import User

pytestmark = pytest.mark.django_db

BODY = '# Здравствуйте, {{ имя|default:"клиент" }}\n\nВаш комментарий: {{ комментарий }}.\n\n![x](/local.png)'


def _message(owner: User, **extra: Any) -> Message:
    fields = {"subject": "Новости для {{ имя }}", "body": BODY, "format": "markdown", **extra}
    return Message.objects.create(owner=owner, **fields)


def test_the_preview_shows_the_message_as_the_chosen_recipient_gets_it(client: Client, owner: User) -> None:
    message = _message(owner)
    recipient = Recipient.objects.create(owner=owner, email="r@example.com", full_name="Пётр <b>", comment="важный")
    client.force_login(owner)

    response = client.get(reverse("mailings:message_preview", args=[message.pk]), {"recipient": recipient.pk})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Новости для Пётр &lt;b&gt;" in page
    assert "Здравствуйте, Пётр &lt;b&gt;" in page and "Ваш комментарий: важный." in page
    assert f'src="{reverse("mailings:message_preview_html", args=[message.pk])}?recipient={recipient.pk}"' in page
    assert 'sandbox=""' in page
    assert "/local.png" in page  # the image warning
    assert "Отписаться от рассылки" in page and "/unsubscribe/" in page  # the footer a mailing appends


def test_the_preview_ignores_another_owners_recipient(client: Client, owner: User, other_user: User) -> None:
    message = _message(owner)
    stranger = Recipient.objects.create(owner=other_user, email="x@example.com", full_name="Чужой")
    client.force_login(owner)

    page = client.get(reverse("mailings:message_preview", args=[message.pk]), {"recipient": stranger.pk}).content

    assert "Чужой" not in page.decode()
    assert "Новости для owner" in page.decode()  # the owner's own name stands in


def test_the_html_is_served_sandboxed_with_values_escaped(client: Client, owner: User) -> None:
    message = _message(owner)
    recipient = Recipient.objects.create(owner=owner, email="r@example.com", full_name="<script>x</script>")
    client.force_login(owner)

    response = client.get(reverse("mailings:message_preview_html", args=[message.pk]), {"recipient": recipient.pk})

    assert response.status_code == 200
    assert response["Content-Security-Policy"].startswith("sandbox;")
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    body = response.content.decode()
    assert "<script>x" not in body and "&lt;script&gt;x&lt;/script&gt;" in body


def test_a_test_send_goes_through_the_queue_to_the_owner_only(
    client: Client, owner: User, smtp_server: SmtpServer, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.DEFAULT_FROM_EMAIL = "Vestnik <news@mail.example.org>"
    message = _message(owner)
    client.force_login(owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mailings:message_test_send", args=[message.pk]), follow=True)

    assert "поставлено в очередь" in response.content.decode()
    assert smtp_server.messages == []  # the web request sent nothing
    run_tasks()
    (received,) = smtp_server.messages
    assert received.rcpt_tos == ["owner@example.com"]
    assert received.subject == "[Тест] Новости для owner"
    assert received.parsed[TEST_HEADER] == "yes"
    assert "Здравствуйте, owner" in received.html and "Здравствуйте, owner" in received.text
    assert wire_format_problems(received.raw) == []
    assert not Attempt.objects.exists() and not Delivery.objects.exists()


def test_test_sends_are_limited_per_user(
    client: Client, owner: User, smtp_server: SmtpServer, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.TEST_SEND_LIMIT, settings.TEST_SEND_WINDOW = 2, 600
    message = _message(owner)
    client.force_login(owner)
    url = reverse("mailings:message_test_send", args=[message.pk])

    with time_machine.travel("2026-11-25 10:00:00 +0000", tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(3):
                last = client.post(url, follow=True)
        assert "Слишком много тестовых писем" in last.content.decode()
        run_tasks()
        assert len(smtp_server.messages) == 2
        traveller.shift(601)
        with django_capture_on_commit_callbacks(execute=True):
            assert "поставлено в очередь" in client.post(url, follow=True).content.decode()


def test_an_unconfirmed_address_gets_no_test_send(
    client: Client, owner: User, smtp_server: SmtpServer, django_capture_on_commit_callbacks: Any
) -> None:
    User.objects.filter(pk=owner.pk).update(email_confirmed_at=None)
    message = _message(owner)
    client.force_login(owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mailings:message_test_send", args=[message.pk]), follow=True)
    run_tasks()

    assert "подтверждённый адрес" in response.content.decode()
    assert smtp_server.messages == []
