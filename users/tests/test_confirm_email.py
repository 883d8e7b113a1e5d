from datetime import timedelta

import time_machine
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from users.models import User
from users.tokens import confirmation_token_make


def _unconfirmed(email: str = "new@example.com") -> User:
    return User.objects.create_user(email=email, password="x-Very-long-pass-1", is_active=False)


def _url(token: str) -> str:
    return reverse("users:confirm_email", args=[token])


def test_get_asks_for_a_click_and_changes_nothing(client: Client, db: None) -> None:
    user = _unconfirmed()
    response = client.get(_url(confirmation_token_make(user=user)))
    assert response.status_code == 200
    assert "new@example.com" in response.content.decode()
    user.refresh_from_db()
    assert user.email_confirmed_at is None
    assert not user.is_active


def test_post_confirms_activates_and_signs_in(client: Client, db: None) -> None:
    user = _unconfirmed()
    response = client.post(_url(confirmation_token_make(user=user)))
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    user.refresh_from_db()
    assert user.email_confirmed_at is not None
    assert user.is_active
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get(reverse("users:profile")).status_code == 200


def test_the_link_works_once(client: Client, db: None) -> None:
    user = _unconfirmed()
    token = confirmation_token_make(user=user)
    assert client.post(_url(token)).status_code == 302
    client.logout()

    for response in (client.get(_url(token)), client.post(_url(token))):
        assert response.status_code == 400
        assert "уже использована" in response.content.decode()


def test_an_expired_link_is_refused_with_an_offer_to_resend(client: Client, db: None) -> None:
    user = _unconfirmed()
    token = confirmation_token_make(user=user)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.ACCOUNT_CONFIRMATION_MAX_AGE + 5)):
        response = client.post(_url(token))
    assert response.status_code == 400
    content = response.content.decode()
    assert "Срок действия ссылки истёк" in content
    assert reverse("users:resend_confirmation") in content
    assert "new@example.com" not in content  # an expired link does not tell whose it was
    user.refresh_from_db()
    assert user.email_confirmed_at is None


def test_a_link_just_inside_its_lifetime_works(client: Client, db: None) -> None:
    user = _unconfirmed()
    token = confirmation_token_make(user=user)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.ACCOUNT_CONFIRMATION_MAX_AGE - 60)):
        assert client.post(_url(token)).status_code == 302


def test_a_tampered_link_is_refused(client: Client, db: None) -> None:
    user = _unconfirmed()
    other = _unconfirmed("other-new@example.com")
    token = confirmation_token_make(user=user)
    forged = signing.dumps({"u": other.pk, "s": token}, salt="some-other-salt")
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "garbage", forged):
        response = client.post(_url(bad))
        assert response.status_code == 400
        assert "Ссылка повреждена" in response.content.decode()
    assert not User.objects.filter(email_confirmed_at__isnull=False).exists()


def test_a_password_reset_token_does_not_confirm(client: Client, db: None) -> None:
    user = _unconfirmed()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    reset_token = default_token_generator.make_token(user)
    for bad in (reset_token, f"{uid}-{reset_token}", f"{uid}:{reset_token}"):
        assert client.post(_url(bad)).status_code == 400
    user.refresh_from_db()
    assert user.email_confirmed_at is None
    assert not user.is_active


def test_a_blocked_user_is_not_let_in_by_an_old_link(client: Client, manager: User) -> None:
    user = _unconfirmed()
    token = confirmation_token_make(user=user)
    User.objects.filter(pk=user.pk).update(blocked_at=timezone.now(), blocked_by=manager)
    response = client.post(_url(token))
    assert response.status_code == 400
    assert "заблокирована" in response.content.decode()
    user.refresh_from_db()
    assert not user.is_active
    assert "_auth_user_id" not in client.session


def test_it_is_get_and_post_only(client: Client, db: None) -> None:
    user = _unconfirmed()
    assert client.put(_url(confirmation_token_make(user=user))).status_code == 405
