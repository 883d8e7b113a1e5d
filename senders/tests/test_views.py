"""The owner's pages of SMTP accounts: add, edit (the password write-only), delete, check the connection."""

import logging
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from mailings.models import Mailing, SmtpAccountState
from mailings.tests.sending_support import free_port, make_run
from senders.models import SmtpAccount
from senders.tests.conftest import PASSWORD_A
from senders.tests.support import AuthSmtpServer, account_for
from tests.support import run_tasks
from users.models import User

FORM = {
    "name": "Магазин",
    "host": "smtp.yandex.ru",
    "port": "465",
    "security": "ssl",
    "login": "shop@yandex.ru",
    "from_email": "shop@yandex.ru",
    "from_name": "Магазин",
    "reply_to": "",
    "limit_per_second": "1",
    "limit_per_hour": "0",
    "limit_per_day": "500",
}
SECRET = "typed-app-password-9vx3"


def _ask_check(client: Client, account: SmtpAccount, capture: Any) -> None:
    """POST «Проверить соединение»; the task is enqueued when the request's transaction commits."""
    with capture(execute=True):
        response = client.post(reverse("senders:smtp_account_check", args=[account.pk]))
    assert response.status_code == 302


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_owner_adds_an_account_and_the_password_is_stored_encrypted_and_never_shown(owner: User) -> None:
    client = _client(owner)
    response = client.post(reverse("senders:smtp_account_create"), {**FORM, "password": SECRET})

    account = SmtpAccount.objects.get(owner=owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("senders:smtp_account_detail", args=[account.pk])
    assert account.has_password and SECRET not in account.password_encrypted
    for name in ("smtp_account_detail", "smtp_account_update"):
        page = client.get(reverse(f"senders:{name}", args=[account.pk])).content.decode()
        assert SECRET not in page and account.password_encrypted not in page
    assert 'type="password"' in client.get(reverse("senders:smtp_account_update", args=[account.pk])).content.decode()


def test_editing_with_the_password_left_empty_keeps_it_and_a_new_one_replaces_it(
    owner: User, server_a: AuthSmtpServer
) -> None:
    account = account_for(owner, server_a, name="A", login="a", password="first-pass", from_email="a@example.com")
    token = account.password_encrypted
    client = _client(owner)

    client.post(reverse("senders:smtp_account_update", args=[account.pk]), {**FORM, "password": ""})
    account.refresh_from_db()
    assert account.password_encrypted == token and account.name == "Магазин"

    client.post(reverse("senders:smtp_account_update", args=[account.pk]), {**FORM, "password": "second-pass"})
    account.refresh_from_db()
    assert account.password_encrypted != token
    from senders.crypto import password_decrypt

    assert password_decrypt(account.password_encrypted) == "second-pass"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("ru", "Введите пароль приложения для этого логина."), ("en", "Enter the app password for this login.")],
)
def test_a_login_without_a_password_is_refused_in_both_languages(owner: User, language: str, expected: str) -> None:
    client = _client(owner)
    with translation.override(language):
        response = client.post(
            reverse("senders:smtp_account_create"), {**FORM, "host": "bad host\r\nRCPT"}, HTTP_ACCEPT_LANGUAGE=language
        )
    content = response.content.decode()
    assert response.status_code == 200 and expected in content
    assert not SmtpAccount.objects.exists()


def test_the_form_offers_presets_through_a_static_script_and_no_inline_one(owner: User) -> None:
    content = _client(owner).get(reverse("senders:smtp_account_create")).content.decode()
    assert "data-presets" in content and "smtp.yandex.ru" in content
    assert "js/smtp_presets.js" in content
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", content)


def test_deleting_an_account_a_mailing_uses_is_refused_with_an_explanation(
    owner: User, server_a: AuthSmtpServer
) -> None:
    account = account_for(owner, server_a, name="A", login="a", password="p", from_email="a@example.com")
    mailing, _attempt = make_run(owner, ["x@example.com"])
    Mailing.objects.filter(pk=mailing.pk).update(smtp_account=account)
    client = _client(owner)

    page = client.get(reverse("senders:smtp_account_delete", args=[account.pk])).content.decode()
    assert "нельзя удалить" in page
    response = client.post(reverse("senders:smtp_account_delete", args=[account.pk]), follow=True)
    assert SmtpAccount.objects.filter(pk=account.pk).exists()
    assert "выберите им другую учётную запись" in response.content.decode()

    Mailing.objects.filter(pk=mailing.pk).update(smtp_account=None)
    SmtpAccountState.objects.create(account=account.breaker_key, day_count=3)
    client.post(reverse("senders:smtp_account_delete", args=[account.pk]))
    assert not SmtpAccount.objects.filter(pk=account.pk).exists()
    assert not SmtpAccountState.objects.filter(account=account.breaker_key).exists()


def test_checking_the_connection_runs_in_the_worker_and_reports_success(
    owner: User, server_a: AuthSmtpServer, caplog: Any, django_capture_on_commit_callbacks: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    account = account_for(
        owner, server_a, name="A", login="shop@a.example", password=PASSWORD_A, from_email="shop@a.example"
    )
    client = _client(owner)

    _ask_check(client, account, django_capture_on_commit_callbacks)
    # The request only asked: no login reached the server yet.
    assert server_a.authenticator.tries == []
    assert "Проверяется" in client.get(reverse("senders:smtp_account_detail", args=[account.pk])).content.decode()

    run_tasks()

    account.refresh_from_db()
    assert account.check_status == SmtpAccount.CheckStatus.OK and account.check_reason == "check_ok"
    assert "shop@a.example" in server_a.authenticator.tries
    page = client.get(reverse("senders:smtp_account_detail", args=[account.pk])).content.decode()
    assert "Соединение, шифрование и вход прошли успешно" in page
    assert PASSWORD_A not in caplog.text and PASSWORD_A not in page


def test_a_wrong_password_is_reported_in_plain_words_with_the_servers_reply(
    owner: User, server_a: AuthSmtpServer, django_capture_on_commit_callbacks: Any
) -> None:
    account = account_for(owner, server_a, name="A", login="shop@a.example", password="wrong", from_email="a@a.example")
    client = _client(owner)
    _ask_check(client, account, django_capture_on_commit_callbacks)
    run_tasks()

    account.refresh_from_db()
    assert account.check_status == SmtpAccount.CheckStatus.FAILED
    assert account.check_reason == "auth_failed" and account.check_code == 535
    page = client.get(reverse("senders:smtp_account_detail", args=[account.pk])).content.decode()
    assert "Неверный логин или пароль" in page and "535" in page


def test_a_closed_port_is_reported_as_such(
    owner: User, server_a: AuthSmtpServer, django_capture_on_commit_callbacks: Any
) -> None:
    account = account_for(owner, server_a, name="A", login="a", password="p", from_email="a@a.example")
    SmtpAccount.objects.filter(pk=account.pk).update(port=free_port())
    client = _client(owner)
    _ask_check(client, account, django_capture_on_commit_callbacks)
    run_tasks()

    account.refresh_from_db()
    assert account.check_reason == "connection_refused"
    assert "Порт закрыт" in client.get(reverse("senders:smtp_account_detail", args=[account.pk])).content.decode()


def test_a_mailing_can_choose_only_its_owners_accounts(
    owner: User, other_user: User, server_a: AuthSmtpServer, settings: Any
) -> None:
    from mailings.forms import MailingForm

    mine = account_for(owner, server_a, name="Mine", login="a", password="p", from_email="a@a.example")
    theirs = account_for(other_user, server_a, name="Theirs", login="b", password="p", from_email="b@a.example")
    form = MailingForm(owner=owner)
    field = form.fields["smtp_account"]
    assert list(field.queryset) == [mine]  # type: ignore[attr-defined]
    assert not field.required
    forged = MailingForm({"smtp_account": theirs.pk}, owner=owner)
    assert "smtp_account" in forged.errors

    settings.ALLOW_SERVICE_ACCOUNT_FOR_MAILINGS = False
    assert MailingForm(owner=owner).fields["smtp_account"].required


def test_no_page_shows_the_password_to_anyone(owner: User, manager: User, server_a: AuthSmtpServer) -> None:
    account = account_for(owner, server_a, name="A", login="a", password=SECRET, from_email="a@a.example")
    mailing, _attempt = make_run(owner, ["x@example.com"])
    Mailing.objects.filter(pk=mailing.pk).update(smtp_account=account)
    superuser = User.objects.create_superuser(email="root@example.com", password="correct-horse-battery-staple")
    pages = {
        owner: [
            reverse("senders:smtp_account_list"),
            reverse("senders:smtp_account_detail", args=[account.pk]),
            reverse("senders:smtp_account_update", args=[account.pk]),
            reverse("senders:smtp_account_delete", args=[account.pk]),
            reverse("mailings:mailing_detail", args=[mailing.pk]),
            reverse("mailings:mailing_update", args=[mailing.pk]),
        ],
        manager: [
            reverse("senders:smtp_account_list"),
            reverse("senders:smtp_account_detail", args=[account.pk]),
            reverse("senders:smtp_account_disable", args=[account.pk]),
        ],
        superuser: [
            reverse("admin:senders_smtpaccount_changelist"),
            reverse("admin:senders_smtpaccount_change", args=[account.pk]),
            reverse("admin:mailings_mailing_change", args=[mailing.pk]),
        ],
    }
    for user, urls in pages.items():
        client = _client(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            content = response.content.decode()
            assert SECRET not in content and account.password_encrypted not in content, url
