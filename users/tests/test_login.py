from typing import Any

from django.conf import settings
from django.test import Client
from django.urls import reverse

from users.models import User

URL = reverse("users:login")


def test_it_shows_the_form(client: Client, db: None) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    assert reverse("users:password_reset") in response.content.decode()


def test_it_signs_in_by_email_in_any_case(client: Client, owner: User, password: str) -> None:
    response = client.post(URL, {"username": "  OWNER@Example.COM ", "password": password})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_it_follows_next(client: Client, owner: User, password: str) -> None:
    response = client.post(URL + "?next=/accounts/profile/", {"username": owner.email, "password": password})
    assert response["Location"] == "/accounts/profile/"


def test_it_refuses_a_wrong_password(client: Client, owner: User) -> None:
    response = client.post(URL, {"username": owner.email, "password": "wrong"})
    assert response.status_code == 200
    assert "Неверный адрес электронной почты или пароль" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_unconfirmed_user_is_told_why_and_offered_a_new_link(client: Client, db: None, password: str) -> None:
    User.objects.create_user(email="new@example.com", password=password, is_active=False)
    response = client.post(URL, {"username": "new@example.com", "password": password})
    assert response.status_code == 200
    content = response.content.decode()
    assert "Адрес не подтверждён" in content
    assert "Отправить ссылку ещё раз" in content
    assert reverse("users:resend_confirmation") in content
    assert "_auth_user_id" not in client.session


def test_an_unconfirmed_user_with_a_wrong_password_learns_nothing(client: Client, db: None, password: str) -> None:
    User.objects.create_user(email="new@example.com", password=password, is_active=False)
    response = client.post(URL, {"username": "new@example.com", "password": "wrong"})
    content = response.content.decode()
    assert "Неверный адрес электронной почты или пароль" in content
    assert "Адрес не подтверждён" not in content


def test_a_blocked_user_is_told_so_with_the_reason(client: Client, blocked_user: User, password: str) -> None:
    response = client.post(URL, {"username": blocked_user.email, "password": password})
    assert response.status_code == 200
    content = response.content.decode()
    assert "Учётная запись заблокирована" in content
    assert "Причина: spam" in content
    assert "Отправить ссылку ещё раз" not in content
    assert "_auth_user_id" not in client.session


def test_a_blocked_user_without_a_reason_is_told_so(client: Client, blocked_user: User, password: str) -> None:
    User.objects.filter(pk=blocked_user.pk).update(block_reason="")
    content = client.post(URL, {"username": blocked_user.email, "password": password}).content.decode()
    assert "Учётная запись заблокирована" in content
    assert "Причина" not in content


def test_it_locks_out_after_too_many_failures(client: Client, owner: User, password: str) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(URL, {"username": owner.email, "password": "wrong"}).status_code == 200

    response = client.post(URL, {"username": owner.email, "password": "wrong"})
    assert response.status_code == 429
    assert "Вход временно заблокирован" in response.content.decode()

    # Even the right password is refused during the cool-off.
    response = client.post(URL, {"username": owner.email, "password": password})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_account(client: Client, owner: User, other_user: User, password: str) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(URL, {"username": owner.email, "password": "wrong"})
    response = client.post(URL, {"username": other_user.email, "password": password})
    assert response.status_code == 302


def test_logout_is_post_only(client: Client, owner: User) -> None:
    client.force_login(owner)
    assert client.get(reverse("users:logout")).status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post(reverse("users:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_logout_says_so_on_the_next_page(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(reverse("users:logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Вы вышли из учётной записи." in response.content.decode()


def test_changing_the_case_of_the_address_does_not_buy_more_tries(client: Client, owner: User) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        address = owner.email.upper() if attempt % 2 else owner.email
        assert client.post(URL, {"username": address, "password": "wrong"}).status_code == 200
    response = client.post(URL, {"username": "Owner@Example.com", "password": "wrong"})
    assert response.status_code == 429


def test_behind_a_proxy_the_lockout_counts_the_client_not_the_proxy(
    client: Client, owner: User, password: str, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    url = reverse("users:login")
    attacker: dict[str, Any] = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 203.0.113.9"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": owner.email, "password": "wrong"}, **attacker)
    assert client.post(url, {"username": owner.email, "password": "wrong"}, **attacker).status_code == 429

    # The real owner comes through the same proxy from another address, and gets in.
    owner_client = Client()
    response = owner_client.post(
        url,
        {"username": owner.email, "password": password},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code == 302
