import logging
from typing import Any

import pytest
from django.utils import timezone

from tests.support import SmtpServer
from users import services
from users.models import User
from users.tasks import send_account_email
from users.tokens import ConfirmationLinkError, confirmation_token_make, confirmation_token_user


def _register(**extra: Any) -> User:
    data = {"email": "New@Example.com", "password": "x-Very-long-pass-1", "first_name": "Н", "last_name": ""}
    data.update(extra)
    user = services.user_register(base_url="http://testserver", **data)
    assert user is not None
    return user


def test_user_register_creates_an_inactive_unconfirmed_user_and_logs_it(
    db: None, caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: Any
) -> None:
    with caplog.at_level(logging.INFO, logger="users.services"), django_capture_on_commit_callbacks() as callbacks:
        user = _register()
    assert user.email == "new@example.com"
    assert not user.is_active
    assert user.email_confirmed_at is None
    assert len(callbacks) == 1
    assert "user registered" in caplog.text


def test_user_confirm_email_wins_once(db: None, caplog: pytest.LogCaptureFixture) -> None:
    user = _register()
    stale_copy = User.objects.get(pk=user.pk)
    with caplog.at_level(logging.INFO, logger="users.services"):
        assert services.user_confirm_email(user=user) is True
    assert services.user_confirm_email(user=stale_copy) is False
    assert "user confirmed" in caplog.text
    user.refresh_from_db()
    assert user.is_active


def test_user_confirm_email_does_not_let_a_blocked_user_in(db: None) -> None:
    user = _register()
    User.objects.filter(pk=user.pk).update(blocked_at=timezone.now())
    assert services.user_confirm_email(user=user) is False
    user.refresh_from_db()
    assert not user.is_active


def test_a_token_names_its_user_until_used(db: None) -> None:
    user = _register()
    token = confirmation_token_make(user=user)
    assert confirmation_token_user(token=token) == user
    services.user_confirm_email(user=user)
    with pytest.raises(ConfirmationLinkError) as error:
        confirmation_token_user(token=token)
    assert error.value.reason == "used"


def test_a_token_of_a_deleted_user_is_invalid(db: None) -> None:
    user = _register()
    token = confirmation_token_make(user=user)
    user.delete()
    with pytest.raises(ConfirmationLinkError) as error:
        confirmation_token_user(token=token)
    assert error.value.reason == "invalid"


def test_confirmation_resend_says_when_the_address_asked_too_recently(db: None) -> None:
    _register()
    assert services.confirmation_resend(email="new@example.com", base_url="http://testserver") is True
    assert services.confirmation_resend(email=" NEW@example.com ", base_url="http://testserver") is False


def test_the_task_sends_one_message_with_both_parts(smtp_server: SmtpServer) -> None:
    send_account_email.call("a@example.com", "Тема", "Текст письма", "<p>Текст письма</p>")
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message.rcpt_tos == ["a@example.com"]
    assert message.subject == "Тема"
    assert message.text.strip() == "Текст письма"
    assert "<p>Текст письма</p>" in message.html


def test_the_task_is_on_the_default_queue() -> None:
    assert send_account_email.queue_name == "default"
