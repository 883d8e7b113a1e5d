from datetime import timedelta

import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.support import SmtpServer, run_tasks
from users.models import User
from users.tests.factories import link_in

URL = reverse("users:resend_confirmation")
SENT = "Если этот адрес зарегистрирован и ещё не подтверждён"
TOO_SOON = "Ссылку можно запрашивать не чаще"


def _unconfirmed() -> User:
    return User.objects.create_user(email="new@example.com", password="x-Very-long-pass-1", is_active=False)


def test_it_shows_the_form(client: Client, db: None) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    assert 'name="email"' in response.content.decode()


def test_it_queues_a_new_link_that_confirms(client: Client, smtp_server: SmtpServer, transactional_db: None) -> None:
    user = _unconfirmed()
    response = client.post(URL, {"email": "NEW@example.com"}, follow=True)
    assert SENT in response.content.decode()
    assert smtp_server.messages == []

    run_tasks()

    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0].rcpt_tos == ["new@example.com"]
    assert client.post(link_in(smtp_server.messages[0])).status_code == 302
    user.refresh_from_db()
    assert user.is_active
    assert user.email_confirmed_at is not None


def test_it_is_rate_limited_per_address(client: Client, smtp_server: SmtpServer, transactional_db: None) -> None:
    _unconfirmed()
    client.post(URL, {"email": "new@example.com"})
    response = client.post(URL, {"email": "New@Example.com"}, follow=True)
    assert TOO_SOON in response.content.decode()
    # Another address is not held up by this one.
    assert SENT in client.post(URL, {"email": "someone@example.com"}, follow=True).content.decode()
    run_tasks()
    assert len(smtp_server.messages) == 1

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.ACCOUNT_RESEND_INTERVAL + 1)):
        response = client.post(URL, {"email": "new@example.com"}, follow=True)
    assert SENT in response.content.decode()
    run_tasks()
    assert len(smtp_server.messages) == 2


def test_unknown_confirmed_and_blocked_addresses_get_the_same_answer_and_no_mail(
    client: Client, smtp_server: SmtpServer, transactional_db: None, owner: User, blocked_user: User
) -> None:
    for address in ("nobody@example.com", owner.email, blocked_user.email):
        response = client.post(URL, {"email": address}, follow=True)
        assert response.status_code == 200
        assert SENT in response.content.decode()
    run_tasks()
    assert smtp_server.messages == []


def test_the_unknown_address_is_rate_limited_too(client: Client, db: None) -> None:
    client.post(URL, {"email": "nobody@example.com"})
    assert TOO_SOON in client.post(URL, {"email": "nobody@example.com"}, follow=True).content.decode()


def test_a_bad_address_is_refused(client: Client, db: None) -> None:
    response = client.post(URL, {"email": "not-an-address"})
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
