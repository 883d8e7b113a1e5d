import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.support import SmtpServer, run_tasks
from users.models import User
from users.tests.factories import link_in

URL = reverse("users:register")


def _form(**extra: str) -> dict[str, str]:
    data = {
        "email": "New.Person@Example.com",
        "first_name": "Анна",
        "last_name": "Петрова",
        "password1": "a-long-Unusual-passphrase-42",
        "password2": "a-long-Unusual-passphrase-42",
    }
    data.update(extra)
    return data


def test_it_shows_the_form(client: Client, db: None) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    assert "Регистрация" in response.content.decode()
    assert 'name="password2"' in response.content.decode()


def test_it_creates_an_inactive_user_and_queues_the_email(
    client: Client, smtp_server: SmtpServer, transactional_db: None
) -> None:
    # A committing database: the in-process worker of run_tasks() drops a connection held in a transaction.
    response = client.post(URL, _form())

    assert response.status_code == 302
    assert response["Location"] == reverse("users:register_done")
    user = User.objects.get()
    assert user.email == "new.person@example.com"
    assert (user.first_name, user.last_name) == ("Анна", "Петрова")
    assert user.is_active is False
    assert user.email_confirmed_at is None
    assert user.check_password("a-long-Unusual-passphrase-42")
    # The request only queued the email; the SMTP server has heard nothing yet.
    assert smtp_server.messages == []

    run_tasks()

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message.rcpt_tos == ["new.person@example.com"]
    assert "Подтвердите адрес" in message.subject
    path = link_in(message)
    assert path.startswith("/accounts/confirm/")
    assert path in message.html


def test_the_done_page_names_the_address(client: Client, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, _form(), follow=True)
    assert "new.person@example.com" in response.content.decode()


def _page(response: Any) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_a_taken_address_gets_the_same_answer_and_its_owner_an_email(
    client: Client, smtp_server: SmtpServer, transactional_db: None, owner: User
) -> None:
    taken = client.post(URL, _form(email="OWNER@example.com"), follow=True)
    new = Client().post(URL, _form(email="owner2@example.com"), follow=True)
    assert taken.redirect_chain == [(reverse("users:register_done"), 302)]
    assert _page(taken).replace("owner@example.com", "X") == _page(new).replace("owner2@example.com", "X")
    assert User.objects.filter(email__iexact="owner@example.com").count() == 1
    owner.refresh_from_db()
    assert owner.check_password("correct-horse-battery-staple") and owner.first_name == "owner"

    run_tasks()
    told = [m for m in smtp_server.messages if m.rcpt_tos == ["owner@example.com"]]
    assert len(told) == 1
    assert "Попытка регистрации" in told[0].subject
    assert "/accounts/password/reset/" in told[0].text


def test_an_unconfirmed_address_registered_again_gets_its_link_again(
    client: Client, smtp_server: SmtpServer, transactional_db: None
) -> None:
    client.post(URL, _form())
    Client().post(URL, _form(password1="other-Long-pass-91", password2="other-Long-pass-91"))
    assert User.objects.count() == 1
    assert User.objects.get().check_password("a-long-Unusual-passphrase-42")
    run_tasks()
    # The second one is within ACCOUNT_RESEND_INTERVAL of the first link: one email, not a flood.
    assert [m.subject for m in smtp_server.messages] == [smtp_server.messages[0].subject]
    assert "Подтвердите адрес" in smtp_server.messages[0].subject


def test_registering_a_taken_address_again_and_again_mails_its_owner_once(
    client: Client, smtp_server: SmtpServer, transactional_db: None, owner: User
) -> None:
    for _ in range(3):
        Client().post(URL, _form(email=owner.email))
    run_tasks()
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("password2", "something-else-entirely-9"), ("first_name", ""), ("email", "not-an-address")],
)
def test_it_refuses_bad_input(client: Client, db: None, field: str, value: str) -> None:
    response = client.post(URL, _form(**{field: value}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not User.objects.exists()


def test_it_refuses_a_weak_password(client: Client, db: None) -> None:
    response = client.post(URL, _form(password1="12345678", password2="12345678"))
    assert "password2" in response.context["form"].errors
    assert not User.objects.exists()


def test_it_sends_a_signed_in_user_home(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_the_email_waits_for_the_commit(client: Client, db: None, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(URL, _form())
    assert len(callbacks) == 1
