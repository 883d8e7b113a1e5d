"""Passwords encrypted at rest with keys from the environment, rotated without losing a mailbox."""

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from mailings.delivery.accounts import mailing_sender
from senders.crypto import PasswordUndecryptable, password_decrypt, password_encrypt
from senders.models import SmtpAccount
from senders.tests.support import AuthSmtpServer, account_for
from users.models import User

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_a_password_round_trips_and_is_never_stored_as_it_is(settings: Any) -> None:
    settings.SMTP_PASSWORD_KEYS = [OLD_KEY]
    token = password_encrypt("secret-1")
    assert "secret-1" not in token and password_decrypt(token) == "secret-1"
    assert password_encrypt("") == "" and password_decrypt("") == ""


def test_rotation_keeps_old_passwords_readable_and_the_command_re_encrypts_them(
    settings: Any, owner: User, server_a: AuthSmtpServer
) -> None:
    settings.SMTP_PASSWORD_KEYS = [OLD_KEY]
    account = account_for(owner, server_a, name="A", login="a", password="secret-1", from_email="a@example.com")
    settings.SMTP_PASSWORD_KEYS = [NEW_KEY, OLD_KEY]
    assert password_decrypt(account.password_encrypted) == "secret-1"

    out = StringIO()
    call_command("smtp_passwords_rotate", stdout=out)

    assert "re-encrypted: 1" in out.getvalue()
    settings.SMTP_PASSWORD_KEYS = [NEW_KEY]
    assert password_decrypt(SmtpAccount.objects.get(pk=account.pk).password_encrypted) == "secret-1"


def test_a_password_from_a_forgotten_key_pauses_the_account_instead_of_failing(
    settings: Any, owner: User, server_a: AuthSmtpServer
) -> None:
    settings.SMTP_PASSWORD_KEYS = [OLD_KEY]
    account = account_for(owner, server_a, name="A", login="a", password="secret-1", from_email="a@example.com")
    settings.SMTP_PASSWORD_KEYS = [NEW_KEY]
    with pytest.raises(PasswordUndecryptable):
        password_decrypt(account.password_encrypted)
    sender = mailing_sender(smtp_account_id=account.pk)
    assert sender.paused is not None and sender.paused.code == "password_undecryptable"


def test_with_debug_and_no_key_a_development_key_is_derived_from_secret_key(settings: Any) -> None:
    settings.SMTP_PASSWORD_KEYS = []
    settings.SMTP_PASSWORD_KEY_DERIVED = True
    token = password_encrypt("secret-1")
    assert password_decrypt(token) == "secret-1"
    settings.SECRET_KEY = "another-secret"
    with pytest.raises(PasswordUndecryptable):
        password_decrypt(token)


def test_without_a_key_in_production_the_form_refuses_to_store_a_password(settings: Any, owner: User) -> None:
    from senders.forms import SmtpAccountForm

    settings.SMTP_PASSWORD_KEYS = []
    settings.SMTP_PASSWORD_KEY_DERIVED = False
    form = SmtpAccountForm(
        {
            "name": "A",
            "host": "smtp.example.com",
            "port": "465",
            "security": "ssl",
            "login": "a@example.com",
            "password": "secret-1",
            "from_email": "a@example.com",
            "limit_per_second": "0",
            "limit_per_hour": "0",
            "limit_per_day": "0",
        },
        owner=owner,
    )
    assert not form.is_valid()
    assert "SMTP_PASSWORD_KEY" in form.errors["password"][0]
