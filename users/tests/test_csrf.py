"""Every state-changing account view refuses a POST without the CSRF token."""

import pytest
from django.test import Client
from django.urls import reverse

from users.models import User
from users.tokens import confirmation_token_make


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize(
    "name",
    ["users:register", "users:login", "users:resend_confirmation", "users:password_reset"],
)
def test_anonymous_forms_need_the_token(csrf_client: Client, db: None, name: str) -> None:
    response = csrf_client.post(reverse(name), {"email": "a@example.com", "username": "a@example.com"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "name",
    ["users:logout", "users:profile_edit", "users:delete", "users:password_change"],
)
def test_signed_in_forms_need_the_token(csrf_client: Client, owner: User, password: str, name: str) -> None:
    csrf_client.force_login(owner)
    response = csrf_client.post(reverse(name), {"password": password, "first_name": "X"})
    assert response.status_code == 403
    assert User.objects.filter(pk=owner.pk, first_name="owner").exists()


def test_confirming_needs_the_token(csrf_client: Client, db: None) -> None:
    user = User.objects.create_user(email="new@example.com", password="x-Very-long-pass-1", is_active=False)
    response = csrf_client.post(reverse("users:confirm_email", args=[confirmation_token_make(user=user)]))
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.email_confirmed_at is None


def test_setting_a_new_password_needs_the_token(csrf_client: Client, owner: User) -> None:
    url = reverse("users:password_reset_confirm", args=["MQ", "set-password"])
    assert csrf_client.post(url, {"new_password1": "a", "new_password2": "a"}).status_code == 403
