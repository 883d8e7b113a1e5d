"""The finish report: the owner's email after a run, in their language, and the profile switch."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from mailings.tests.sending_support import fast_settings, make_run
from tests.support import ReceivedMessage, SmtpServer, run_tasks
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    fast_settings(settings, port=server.port)
    settings.SITE_URL = "https://vestnik.example.com"
    try:
        yield server
    finally:
        server.stop()


def _reports(smtp: SmtpServer, owner: User) -> list[ReceivedMessage]:
    return smtp.handler.to(owner.email)


def _refuse(smtp: SmtpServer) -> None:
    def on_rcpt(address: str) -> str | None:
        if address.startswith("b"):
            return "550 5.1.1 User unknown"
        if address.startswith("c"):
            return "552 5.2.2 Mailbox full"
        return None

    smtp.handler.on_rcpt = on_rcpt


def test_the_owner_gets_the_counts_reasons_and_links_in_russian(owner: User, smtp: SmtpServer) -> None:
    _refuse(smtp)
    _mailing, attempt = make_run(owner, ["a@example.com", "b1@example.com", "b2@example.com", "c@example.com"])
    run_tasks()

    reports = _reports(smtp, owner)
    assert len(reports) == 1
    report = reports[0]
    assert report.subject == "«Новости недели»: доставлено 1 из 4 — Vestnik"
    text = report.text
    assert "Доставлено: 1" in text
    assert "Не доставлено: 3" in text
    assert "Неизвестно: 0" in text
    assert "Пропущено: 0" in text
    # The reasons in plain words, most frequent first.
    assert "Частые причины неудач" in text
    first = text.index("постоянный отказ (RCPT): 550 5.1.1 User unknown — 2")
    second = text.index("постоянный отказ (RCPT): 552 5.2.2 Mailbox full — 1")
    assert first < second
    assert f"https://vestnik.example.com/attempts/{attempt.pk}/" in text
    assert f"Повторить для неудачных: https://vestnik.example.com/attempts/{attempt.pk}/#retry" in text
    assert "https://vestnik.example.com/accounts/profile/edit/" in text
    assert report.parsed["Auto-Submitted"] == "auto-generated"
    assert f'href="https://vestnik.example.com/attempts/{attempt.pk}/#retry"' in report.html


def test_the_report_is_in_english_for_an_english_owner(owner: User, smtp: SmtpServer) -> None:
    User.objects.filter(pk=owner.pk).update(language="en")
    _refuse(smtp)
    _mailing, attempt = make_run(owner, ["a@example.com", "b@example.com"])
    run_tasks()

    report = _reports(smtp, owner)[0]
    assert report.subject == "“Новости недели”: 1 of 2 delivered — Vestnik"
    text = report.text
    assert "Delivered: 1" in text and "Not delivered: 1" in text and "Skipped: 0" in text
    assert "permanent failure (RCPT): 550 5.1.1 User unknown — 1" in text
    assert f"Retry failed recipients: https://vestnik.example.com/attempts/{attempt.pk}/#retry" in text
    assert "Доставлено" not in text


def test_a_run_with_nothing_failed_has_no_retry_link(owner: User, smtp: SmtpServer) -> None:
    make_run(owner, ["a@example.com"])
    run_tasks()

    text = _reports(smtp, owner)[0].text
    assert "Доставлено: 1" in text
    assert "Повторить для неудачных" not in text
    assert "Частые причины" not in text


def test_an_owner_who_switched_it_off_gets_nothing(owner: User, smtp: SmtpServer, client: Any) -> None:
    client.force_login(owner)
    response = client.post(
        reverse("users:profile_edit"),
        {"first_name": "Owner", "last_name": "", "phone": "", "country": "", "language": "ru"},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.finish_report is False
    assert "выключен" in client.get(reverse("users:profile")).content.decode()

    make_run(owner, ["a@example.com"])
    run_tasks()

    assert _reports(smtp, owner) == []
    assert len(smtp.handler.to("a@example.com")) == 1


def test_the_profile_switch_turns_it_back_on(owner: User, client: Any) -> None:
    User.objects.filter(pk=owner.pk).update(finish_report=False)
    client.force_login(owner)
    client.post(
        reverse("users:profile_edit"),
        {"first_name": "Owner", "language": "en", "finish_report": "on"},
    )
    owner.refresh_from_db()
    assert owner.finish_report is True and owner.language == "en"
