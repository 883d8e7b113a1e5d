"""A blocked user: logged out on their next request, kept out at the door, no reset email; unblocking lets them in."""

from typing import TYPE_CHECKING

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from moderation.services import user_block, user_unblock
from users.models import User

if TYPE_CHECKING:
    # The test client's response type exists only in django-stubs.
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

LOGIN = reverse("users:login")


def _messages(response: "TestResponse") -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_django_already_turns_a_blocked_users_session_anonymous(owner: User, manager: User) -> None:
    assert ModelBackend().get_user(owner.pk) == owner
    user_block(user=owner, actor=manager, reason="спам")
    assert ModelBackend().get_user(owner.pk) is None


def test_a_signed_in_user_is_logged_out_on_the_next_request_and_told_why(
    client: Client, owner: User, manager: User
) -> None:
    client.force_login(owner)
    assert client.get(reverse("mailings:mailing_list")).status_code == 200
    user_block(user=owner, actor=manager, reason="рассылает спам")

    response = client.get(reverse("mailings:mailing_list"), follow=True)

    assert response.redirect_chain == [(LOGIN, 302)]
    assert SESSION_KEY not in client.session
    assert any("заблокирована" in m and "рассылает спам" in m for m in _messages(response))
    # The session is gone: the next request is an ordinary visitor's, without the message again.
    again = client.get(reverse("mailings:mailing_list"))
    assert again.status_code == 302 and again["Location"].startswith(LOGIN + "?next=")


def test_a_blocked_users_post_is_not_carried_out(client: Client, owner: User, manager: User) -> None:
    client.force_login(owner)
    user_block(user=owner, actor=manager, reason="спам")

    response = client.post(reverse("mailings:message_create"), {"subject": "Тема", "body": "Текст"})

    assert response.status_code == 302 and response["Location"] == LOGIN
    assert not owner.messages.exists()


def test_a_backend_that_lets_inactive_users_in_does_not_let_a_blocked_one_stay(
    client: Client, owner: User, manager: User, settings: Settings
) -> None:
    backend = "django.contrib.auth.backends.AllowAllUsersModelBackend"
    settings.AUTHENTICATION_BACKENDS = [backend]
    client.force_login(owner, backend=backend)
    user_block(user=owner, actor=manager, reason="спам")

    response = client.get(reverse("users:profile"))

    assert response.status_code == 302 and response["Location"] == LOGIN
    assert SESSION_KEY not in client.session


def test_a_blocked_user_cannot_sign_in_and_is_told_why(
    client: Client, owner: User, manager: User, password: str
) -> None:
    user_block(user=owner, actor=manager, reason="рассылает спам")

    response = client.post(LOGIN, {"username": owner.email, "password": password})

    assert response.status_code == 200
    content = response.content.decode()
    assert "заблокирована" in content and "рассылает спам" in content
    assert SESSION_KEY not in client.session


def test_a_blocked_user_gets_no_password_reset_email(
    client: Client, owner: User, manager: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks() as sent_before:
        client.post(reverse("users:password_reset"), {"email": owner.email})
    assert len(sent_before) == 1  # the reset email is queued after commit
    user_block(user=owner, actor=manager, reason="спам")

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("users:password_reset"), {"email": owner.email})

    assert response.status_code == 302  # the same answer as for any address
    assert callbacks == []


def test_unblocking_lets_them_sign_in_again(client: Client, owner: User, manager: User, password: str) -> None:
    user_block(user=owner, actor=manager, reason="спам")
    user_unblock(user=owner, actor=manager, reason="ошибка")

    response = client.post(LOGIN, {"username": owner.email, "password": password})

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(owner.pk)
    assert client.get(reverse("mailings:mailing_list")).status_code == 200


@pytest.mark.parametrize("name", ["home", "blog:list", "users:login"])
def test_even_public_pages_end_a_blocked_session(client: Client, blocked_user: User, name: str) -> None:
    client.force_login(blocked_user)
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert SESSION_KEY not in client.session
