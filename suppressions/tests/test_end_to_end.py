"""Unsubscribe end to end over a real SMTP server (aiosmtpd): the headers and link of a received message work,
a suppression survives whatever happens to the recipient row, and an unsubscribe mid-run stops the run's
message to that address."""

import asyncio
import codecs
import csv
import io
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from mailings.delivery.engine import attempt_deliver
from mailings.delivery.runs import attempt_start
from mailings.delivery.trial import trial_send
from mailings.models import Attempt, Delivery, Message, Recipient
from mailings.tests.sending_support import make_run, states
from suppressions.models import Suppression
from suppressions.services import is_suppressed, suppression_add
from tests.support import ReceivedMessage, SmtpServer, run_tasks
from users.models import User

pytestmark = pytest.mark.django_db


def _one_click_url(received: ReceivedMessage) -> str:
    header = re.sub(r"\s+", "", str(received.parsed["List-Unsubscribe"]))
    match = re.search(r"<(https?://[^>]+)>", header)
    assert match is not None, header
    return match[1]


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "https://news.example.com"
    return parts.path


def test_a_received_message_has_both_headers_and_working_links(server: SmtpServer, owner: User, settings: Any) -> None:
    settings.SITE_URL = "https://news.example.com"
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@example.com"
    mailing, attempt = make_run(owner, ["anna@example.com", "boris@example.com"])
    Message.objects.filter(pk=mailing.message_id).update(format="markdown", body="**Новости** недели.")

    attempt_deliver(attempt_id=attempt.pk)

    anna = next(m for m in server.messages if m.rcpt_tos == ["anna@example.com"])
    assert anna.parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = re.sub(r"\s+", "", str(anna.parsed["List-Unsubscribe"]))
    assert re.fullmatch(
        r"<https://news\.example\.com/unsubscribe/[\w-]+/one-click/>,"
        r"<mailto:unsubscribe@example\.com\?subject=unsubscribe%20[\w-]+>",
        header,
    )
    assert "anna" not in header
    # The footer's link, in both parts, in the service's language.
    link = re.search(r"Отписаться от рассылки \((https://\S+)\)", anna.text)
    assert link is not None, anna.text
    assert f'href="{link[1]}"' in anna.html
    # Each recipient has a link of their own.
    boris = next(m for m in server.messages if m.rcpt_tos == ["boris@example.com"])
    assert _one_click_url(boris) != _one_click_url(anna)

    # A mail client's one-click: a plain POST, no cookies, no CSRF token.
    one_click = Client(enforce_csrf_checks=True).post(
        _path(_one_click_url(anna)), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert one_click.status_code == 200
    assert is_suppressed(owner.pk, "anna@example.com")
    # The body's link opens the page, which says so and offers to subscribe again.
    page = Client().get(_path(link[1])).content.decode()
    assert "отписан" in page and "Подписаться снова" in page

    # The next run skips the address, and says why.
    Attempt.objects.filter(pk=attempt.pk).update(status=Attempt.Status.SUCCESS)
    server.handler.messages.clear()
    second = attempt_start(mailing=mailing, trigger=Attempt.Trigger.MANUAL)
    attempt_deliver(attempt_id=second.pk)
    assert [m.rcpt_tos for m in server.messages] == [["boris@example.com"]]
    skipped = Delivery.objects.get(attempt=second, email="anna@example.com")
    assert (skipped.state, skipped.reason_text) == (Delivery.State.SKIPPED, "отписался")


@pytest.mark.parametrize(
    ("language", "label"), [("ru", "Отписаться от рассылки"), ("en", "Unsubscribe from this mailing")]
)
def test_the_footer_is_in_the_owners_language_in_text_and_html(
    server: SmtpServer, owner: User, settings: Any, language: str, label: str
) -> None:
    # The service speaks the other language: the footer follows the owner, not LANGUAGE_CODE or the worker.
    settings.LANGUAGE_CODE = "en" if language == "ru" else "ru"
    User.objects.filter(pk=owner.pk).update(language=language)
    owner.refresh_from_db()
    mailing, attempt = make_run(owner, ["anna@example.com"])
    Message.objects.filter(pk=mailing.message_id).update(format="markdown", body="**Новости** недели.")

    attempt_deliver(attempt_id=attempt.pk)

    [received] = server.messages
    assert re.search(re.escape(label) + r" \(http\S+/unsubscribe/", received.text), received.text
    assert f">{label}</a>" in received.html
    other = "Unsubscribe from this mailing" if language == "ru" else "Отписаться от рассылки"
    assert other not in received.text and other not in received.html


def test_the_owner_may_place_the_link_and_then_no_footer_is_added(server: SmtpServer, owner: User) -> None:
    mailing, attempt = make_run(owner, ["anna@example.com"])
    Message.objects.filter(pk=mailing.message_id).update(body="Здравствуйте! Отписка: {{ ссылка_отписки }}")

    attempt_deliver(attempt_id=attempt.pk)

    (received,) = server.messages
    assert "Отписаться от рассылки" not in received.text
    assert re.search(r"Отписка: http://127\.0\.0\.1:8000/unsubscribe/[\w-]+/\r?\n", received.text)


def test_without_a_mailto_setting_only_the_https_link_is_offered(server: SmtpServer, owner: User) -> None:
    _mailing, attempt = make_run(owner, ["anna@example.com"])
    attempt_deliver(attempt_id=attempt.pk)
    (received,) = server.messages
    assert "mailto:" not in str(received.parsed["List-Unsubscribe"])


def test_a_test_send_to_oneself_has_the_footer_but_no_list_headers(smtp_server: SmtpServer, owner: User) -> None:
    message = Message.objects.create(owner=owner, subject="Тема", body="Текст")
    trial_send(message_id=message.pk, user_id=owner.pk)
    (received,) = smtp_server.messages
    assert "Отписаться от рассылки: http://127.0.0.1:8000/unsubscribe/" in received.text
    assert received.parsed["List-Unsubscribe"] is None


def test_deleted_readded_and_reimported_addresses_stay_suppressed(
    server: SmtpServer, client: Client, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    mailing, _attempt = make_run(owner, ["anna@example.com", "boris@example.com"])
    Attempt.objects.update(status=Attempt.Status.SUCCESS)
    suppression_add(owner_id=owner.pk, email="anna@example.com", source=Suppression.Source.LINK)
    client.force_login(owner)
    # Deleted, added again by hand in another case, deleted again, then imported from a file.
    anna = Recipient.objects.get(email="anna@example.com")
    client.post(reverse("mailings:recipient_delete", args=[anna.pk]))
    consent = {"consent-source": "shop", "consent-kinds": ["advertising", "personal_data"]}
    client.post(reverse("mailings:recipient_create"), {"email": "ANNA@example.com", "full_name": "Анна", **consent})
    assert Recipient.objects.filter(email="ANNA@example.com").exists()
    Recipient.objects.filter(email="ANNA@example.com").delete()
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["Email", "ФИО"], ["Anna@Example.com", "Анна из файла"]])
    upload = SimpleUploadedFile("clients.csv", codecs.BOM_UTF8 + buffer.getvalue().encode())
    uploaded: Any = client.post(reverse("audience:import_create"), {"file": upload})
    job_url = uploaded.url
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            job_url,
            {
                "has_header": "on",
                "email_column": 0,
                "full_name_column": 1,
                "policy": "skip",
                "consent-source": "website",
                "consent-kinds": ["advertising", "personal_data"],
            },
        )
    run_tasks()
    reimported = Recipient.objects.get(owner=owner, email="Anna@Example.com")
    mailing.recipients.add(reimported)
    assert Suppression.objects.get().email == "anna@example.com"
    assert "отписался" in client.get(reverse("mailings:recipient_list")).content.decode()

    attempt = attempt_start(mailing=mailing, trigger=Attempt.Trigger.MANUAL)
    attempt_deliver(attempt_id=attempt.pk)

    assert states(attempt) == {"Anna@Example.com": Delivery.State.SKIPPED, "boris@example.com": Delivery.State.SENT}
    assert [m.rcpt_tos for m in server.messages] == [["boris@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_an_unsubscribe_mid_run_stops_a_message_already_claimed(server: SmtpServer, owner: User) -> None:
    """The worker has claimed the whole batch when c@ unsubscribes (while the server takes a@'s message):
    c@'s message is never sent, and its delivery says why."""

    def unsubscribe_c() -> None:
        suppression_add(owner_id=owner.pk, email="C@example.com", source=Suppression.Source.ONE_CLICK)
        connection.close()

    async def on_rcpt(address: str) -> None:
        if address == "a@example.com":
            await asyncio.to_thread(unsubscribe_c)

    server.handler.on_rcpt = on_rcpt
    _mailing, attempt = make_run(owner)

    attempt_deliver(attempt_id=attempt.pk)

    assert sorted(m.rcpt_tos[0] for m in server.messages) == ["a@example.com", "b@example.com"]
    c = Delivery.objects.get(attempt=attempt, email="c@example.com")
    assert (c.state, c.reason) == (Delivery.State.SKIPPED, "unsubscribed")
    attempt.refresh_from_db()
    assert (attempt.status, attempt.sent_count, attempt.skipped_count) == (Attempt.Status.FAILURE, 2, 1)
