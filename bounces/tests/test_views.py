"""The bounce mailbox pages: set up (password write-only), check in the background, managers read-only."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from bounces.models import Bounce, BounceMailbox
from bounces.tests.dovecot import PASSWORD, Dovecot
from mailings.models import Delivery
from mailings.tests.world import make_attempt, make_mailing
from tests.support import clear_tasks, run_tasks
from users.models import User

pytestmark = pytest.mark.django_db

SECRET = "typed-imap-app-password-4kq"


@pytest.fixture(autouse=True)
def _no_tasks() -> None:
    clear_tasks()


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(**changes: str) -> dict[str, str]:
    return {
        "host": "imap.yandex.ru",
        "port": "993",
        "security": "ssl",
        "login": "shop@yandex.ru",
        "password": SECRET,
        "folder": "INBOX",
        "is_enabled": "on",
        **changes,
    }


def test_an_owner_sets_up_the_mailbox_and_the_password_is_encrypted_and_never_shown(
    owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(owner)
    assert "Подключить ящик" in client.get(reverse("bounces:mailbox")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("bounces:mailbox_edit"), _form())
    assert response.status_code == 302 and response["Location"] == reverse("bounces:mailbox")
    mailbox = BounceMailbox.objects.get(owner=owner)
    assert mailbox.host == "imap.yandex.ru" and mailbox.password_encrypted and SECRET not in mailbox.password_encrypted
    assert mailbox.check_status == "checking"  # the check is queued, not run in the request
    for url in (reverse("bounces:mailbox"), reverse("bounces:mailbox_edit")):
        assert SECRET not in client.get(url).content.decode()
    # Editing without a password keeps the stored one.
    stored = mailbox.password_encrypted
    client.post(reverse("bounces:mailbox_edit"), _form(password="", folder="Bounces"))
    mailbox.refresh_from_db()
    assert mailbox.folder == "Bounces" and mailbox.password_encrypted == stored


@pytest.mark.parametrize(
    ("language", "field", "value", "expected"),
    [
        ("ru", "host", "bad host\r\nA1 LOGOUT", "Введите имя сервера, например imap.yandex.ru."),
        ("en", "host", "bad host\r\nA1 LOGOUT", "Enter a server name, for example imap.yandex.ru."),
        ("ru", "password", "", "Введите пароль приложения."),
        ("en", "password", "", "Enter the app password."),
        ("en", "folder", 'In"box', "This folder name is not allowed."),
    ],
)
def test_bad_input_is_a_form_error_in_both_languages(
    owner: User, language: str, field: str, value: str, expected: str
) -> None:
    with translation.override(language):
        response = _client(owner).post(
            reverse("bounces:mailbox_edit"), _form(**{field: value}), HTTP_ACCEPT_LANGUAGE=language
        )
    assert response.status_code == 200 and expected in response.content.decode()
    assert not BounceMailbox.objects.exists()


def test_check_reads_the_real_mailbox_in_the_worker(
    dovecot: Dovecot, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(owner)
    login = dovecot.user("view-check@shop-example.ru")
    form = _form(host="127.0.0.1", port=str(dovecot.port), security="none", login=login, password=PASSWORD)
    client.post(reverse("bounces:mailbox_edit"), form)
    dovecot.append(login, b"From: friend@example.org\r\nSubject: hello\r\n\r\njust a letter\r\n")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("bounces:mailbox_check")).status_code == 302
    assert "Проверяется" in client.get(reverse("bounces:mailbox")).content.decode()
    run_tasks()
    mailbox = BounceMailbox.objects.get(owner=owner)
    assert mailbox.check_status == "ok" and mailbox.unrecognised_count == 1
    content = client.get(reverse("bounces:mailbox")).content.decode()
    assert "Вход и чтение папки успешны" in content


def test_a_manager_reads_every_mailbox_and_changes_none(owner: User, manager: User) -> None:
    _client(owner).post(reverse("bounces:mailbox_edit"), _form())
    mailbox = BounceMailbox.objects.get(owner=owner)
    attempt = make_attempt(make_mailing(owner), states=["sent"])
    Bounce.objects.create(
        owner=owner,
        delivery=attempt.deliveries.get(),
        email="gone@example.org",
        kind="hard",
        status="5.1.1",
        diagnostic="550 5.1.1 User unknown",
        source="imap",
        report_digest="x",
    )
    client = _client(manager)
    listing = client.get(reverse("bounces:mailbox_list")).content.decode()
    assert owner.email in listing
    detail = client.get(reverse("bounces:mailbox_detail", args=[mailbox.pk])).content.decode()
    assert "550 5.1.1 User unknown" in detail and "shop@yandex.ru" in detail
    assert reverse("bounces:mailbox_check") not in detail and "Изменить" not in detail
    assert client.post(reverse("bounces:mailbox_check")).status_code == 404  # the manager has no mailbox


def test_another_owners_mailbox_is_not_found(owner: User, other_user: User) -> None:
    _client(owner).post(reverse("bounces:mailbox_edit"), _form())
    mailbox = BounceMailbox.objects.get(owner=owner)
    assert _client(other_user).get(reverse("bounces:mailbox_detail", args=[mailbox.pk])).status_code == 404
    assert _client(other_user).get(reverse("bounces:mailbox_list")).status_code == 403


def test_the_attempt_page_shows_bounced_next_to_sent(owner: User) -> None:
    attempt = make_attempt(make_mailing(owner), states=["sent", "sent", "sent"])
    first, second, _third = attempt.deliveries.order_by("pk")
    Delivery.objects.filter(pk=first.pk).update(bounce="hard")
    Delivery.objects.filter(pk=second.pk).update(bounce="complaint")
    type(attempt).objects.filter(pk=attempt.pk).update(sent_count=3, bounced_count=1, complaint_count=1)
    content = _client(owner).get(reverse("mailings:attempt_detail", args=[attempt.pk])).content.decode()
    assert "Возврат: адрес недоступен" in content and "Жалоба на спам" in content
    assert "Принято сервером" in content  # the third: a bounce may still come
    assert "возвратов 1" in content


def test_managers_see_the_service_mailbox_read_only(manager: User, settings: Any) -> None:
    from bounces.polling import service_mailbox_sync

    settings.BOUNCE_SERVICE_IMAP_HOST = "imap.example.net"
    settings.BOUNCE_SERVICE_IMAP_LOGIN = "bounces@vestnik.example"
    mailbox = service_mailbox_sync()
    assert mailbox is not None
    client = _client(manager)
    assert "служебный ящик сервиса" in client.get(reverse("bounces:mailbox_list")).content.decode()
    detail = client.get(reverse("bounces:mailbox_detail", args=[mailbox.pk])).content.decode()
    assert "bounces@vestnik.example" in detail and reverse("bounces:mailbox_edit") not in detail


def test_the_admin_lists_mailboxes_and_bounces_without_the_password(owner: User) -> None:
    _client(owner).post(reverse("bounces:mailbox_edit"), _form())
    mailbox = BounceMailbox.objects.get(owner=owner)
    root = User.objects.create_superuser(email="root@example.com", password="x-long-password-1")
    client = _client(root)
    for url in (
        reverse("admin:bounces_bouncemailbox_changelist"),
        reverse("admin:bounces_bouncemailbox_change", args=[mailbox.pk]),
        reverse("admin:bounces_bounce_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert mailbox.password_encrypted not in response.content.decode() and SECRET not in response.content.decode()
