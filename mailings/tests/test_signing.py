"""DKIM signing by Vestnik (issue 17): signatures that verify, list headers signed, the DNS page."""

import re
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from django.urls import reverse

from mailings.checks import dkim_check
from mailings.delivery.compose import BuildError, MessageComposer
from mailings.delivery.engine import attempt_deliver
from mailings.delivery.signing import dkim_key
from mailings.tests.sending_support import make_run
from tests.support import SmtpServer, run_tasks, wire_format_problems
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture
def signing(settings: Any, tmp_path: Path, pem: bytes) -> str:
    """DKIM on for example.org; returns the TXT record a resolver would answer."""
    path = tmp_path / "dkim.pem"
    path.write_bytes(pem)
    settings.DKIM_SELECTOR, settings.DKIM_DOMAIN, settings.DKIM_PRIVATE_KEY_FILE = "vestnik", "example.org", str(path)
    settings.DEFAULT_FROM_EMAIL = "Vestnik <news@example.org>"
    key = dkim_key()
    assert key is not None
    return key.public_record()


def _verifies(raw: bytes, record: str) -> bool:
    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"vestnik._domainkey.example.org."
        return record.encode()

    return bool(dkim.verify(raw, dnsfunc=dns))


def _signed_headers(raw: bytes) -> set[str]:
    signature = re.search(rb"DKIM-Signature:(.*?)\r\n(?![ \t])", raw, re.DOTALL)
    assert signature is not None
    h = re.search(rb"h=([^;]+)", re.sub(rb"\s+", b"", signature[1]))
    assert h is not None
    return set(h[1].decode().lower().split(":"))


def test_a_mailings_messages_carry_a_signature_that_verifies(server: SmtpServer, owner: User, signing: str) -> None:
    _mailing, attempt = make_run(owner, ["a@example.com", "b@example.com"], names=["Очень длинное имя " * 5, ""])

    attempt_deliver(attempt_id=attempt.pk)

    assert len(server.messages) == 2
    for received in server.messages:
        assert _verifies(received.raw, signing)
        assert wire_format_problems(received.raw) == []
        assert {"from", "to", "subject", "list-id", "feedback-id"} <= _signed_headers(received.raw)


def test_a_tampered_message_does_not_verify(server: SmtpServer, owner: User, signing: str) -> None:
    _mailing, attempt = make_run(owner, ["a@example.com"])
    attempt_deliver(attempt_id=attempt.pk)

    raw = server.messages[0].raw.replace(b"Subject: ", b"Subject: =?utf-8?b?0KE=?= ")

    assert not _verifies(raw, signing)


def test_the_unsubscribe_headers_are_signed_when_present(signing: str) -> None:
    composer = MessageComposer(
        from_email="news@example.org", subject="s", body="b", msgid_domain="example.org", body_format="markdown"
    )
    extra = [
        ("List-Unsubscribe", "<https://vestnik.example.org/u/abc>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]

    _to, data, _mid = composer.build(email="a@example.com", full_name="", extra_headers=extra)

    assert {"list-unsubscribe", "list-unsubscribe-post"} <= _signed_headers(data)
    assert _verifies(data, signing)


def test_an_account_email_is_signed(
    client: Client, smtp_server: SmtpServer, transactional_db: None, signing: str
) -> None:
    User.objects.create_user(email="reset@example.com", password="x-Long-passphrase-1")
    client.post(reverse("users:password_reset"), {"email": "reset@example.com"})
    run_tasks()

    (received,) = smtp_server.messages
    assert _verifies(received.raw, signing)
    assert "auto-submitted" in _signed_headers(received.raw)


def test_a_half_configured_key_fails_the_messages_not_the_worker(settings: Any) -> None:
    settings.DKIM_SELECTOR, settings.DKIM_DOMAIN, settings.DKIM_PRIVATE_KEY_FILE = "s", "example.org", ""
    composer = MessageComposer(from_email="news@example.org", subject="s", body="b", msgid_domain="example.org")

    with pytest.raises(BuildError) as caught:
        composer.build(email="a@example.com", full_name="")

    assert caught.value.reason.code == "message_unbuildable"


def test_the_dns_page_shows_the_public_key_to_publish(client: Client, manager: User, signing: str) -> None:
    client.force_login(manager)

    page = client.get(reverse("mailings:mail_dns")).content.decode()

    assert "vestnik._domainkey.example.org" in page
    assert signing in page
    assert "_dmarc.example.org" in page and "v=spf1" in page


def test_without_dkim_the_dns_page_explains_relay_signing(client: Client, manager: User) -> None:
    client.force_login(manager)

    page = client.get(reverse("mailings:mail_dns")).content.decode()

    assert "DKIM_SELECTOR" in page and "_domainkey" not in page


def test_the_system_check_reports_a_half_configured_key(settings: Any) -> None:
    settings.DKIM_SELECTOR, settings.DKIM_DOMAIN, settings.DKIM_PRIVATE_KEY_FILE = "s", "example.org", ""

    assert [e.id for e in dkim_check()] == ["mailings.E001"]


def test_the_system_check_is_quiet_with_a_readable_key(signing: str) -> None:
    assert dkim_check() == []
