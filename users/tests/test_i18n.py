"""Account pages render in Russian (the default) and in English."""

import pytest
from django.test import Client
from django.urls import reverse

from users.models import User
from users.tokens import confirmation_token_make

ANONYMOUS = [
    "users:login",
    "users:register",
    "users:register_done",
    "users:resend_confirmation",
    "users:password_reset",
    "users:password_reset_done",
    "users:password_reset_complete",
]
SIGNED_IN = ["users:profile", "users:profile_edit", "users:delete", "users:password_change"]


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("name", ANONYMOUS)
def test_anonymous_pages_render(client: Client, db: None, name: str, language: str) -> None:
    client.cookies["django_language"] = language
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert f'lang="{language}"' in response.content.decode()


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("name", SIGNED_IN)
def test_signed_in_pages_render(client: Client, owner: User, name: str, language: str) -> None:
    client.force_login(owner)
    response = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    assert f'lang="{language}"' in response.content.decode()


@pytest.mark.parametrize("language", ["ru", "en"])
def test_confirmation_pages_render(client: Client, db: None, language: str) -> None:
    client.cookies["django_language"] = language
    user = User.objects.create_user(email="new@example.com", password="x-Very-long-pass-1", is_active=False)
    good = client.get(reverse("users:confirm_email", args=[confirmation_token_make(user=user)]))
    bad = client.get(reverse("users:confirm_email", args=["bad"]))
    assert good.status_code == 200
    assert bad.status_code == 400
    for response in (good, bad):
        assert f'lang="{language}"' in response.content.decode()


def test_the_lockout_page_renders_in_english(client: Client, owner: User, settings: object) -> None:
    client.cookies["django_language"] = "en"
    for _ in range(5):
        response = client.post(reverse("users:login"), {"username": owner.email, "password": "wrong"})
    assert response.status_code == 429
    assert 'lang="en"' in response.content.decode()
