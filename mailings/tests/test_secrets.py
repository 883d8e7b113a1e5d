"""The SMTP password and SECRET_KEY never appear in attempts, deliveries or pages, whatever the server says."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mailings.delivery.engine import attempt_deliver
from mailings.delivery.run_finish import attempt_finish_if_done
from mailings.models import Attempt, Delivery
from mailings.tests.sending_support import fast_settings, make_run, smtp_server_on_free_port
from tests.support import SmtpServer
from users.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "app-Password-7391"


@pytest.fixture
def echoing_server(settings: Any) -> Iterator[SmtpServer]:
    """A server that echoes the account's password (and the secret key) back in its refusals."""
    server = smtp_server_on_free_port()
    fast_settings(settings, port=server.controller.port)
    settings.EMAIL_HOST_PASSWORD = PASSWORD
    secret = settings.SECRET_KEY
    server.handler.on_rcpt = lambda address: f"550 5.1.1 <{address}> unknown; auth was {PASSWORD} key {secret}"
    yield server
    server.stop()


def test_a_reply_echoing_secrets_is_stored_and_shown_redacted(
    echoing_server: SmtpServer, owner: User, client: Client, settings: Any
) -> None:
    _mailing, attempt = make_run(owner, ["a@example.com"])

    attempt_deliver(attempt_id=attempt.pk)
    attempt_finish_if_done(attempt_id=attempt.pk)

    delivery = Delivery.objects.get(attempt=attempt)
    attempt = Attempt.objects.get(pk=attempt.pk)
    assert delivery.state == Delivery.State.FAILED
    assert delivery.smtp_code == 550
    for stored in (delivery.smtp_reply, attempt.server_response):
        assert "***" in stored
        assert PASSWORD not in stored
        assert settings.SECRET_KEY not in stored
    client.force_login(owner)
    page = client.get(reverse("mailings:attempt_detail", args=[attempt.pk])).content.decode()
    assert "unknown; auth was ***" in page
    assert PASSWORD not in page
    assert settings.SECRET_KEY not in page
