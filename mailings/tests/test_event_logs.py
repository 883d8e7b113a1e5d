"""The main events reach the log: mailing created and disabled, a run started and finished with its counts,
the breaker opened and closed, a user blocked."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from mailings.delivery.breaker import breaker_close, breaker_open
from mailings.delivery.engine import attempt_deliver
from mailings.delivery.reasons import reason
from mailings.models import Mailing
from mailings.services.mailings import mailing_create
from mailings.tests.sending_support import fast_settings, make_run, smtp_server_on_free_port
from mailings.tests.world import make_message, make_recipient
from moderation.services import mailing_disable, user_block
from users.models import User

pytestmark = pytest.mark.django_db


def test_a_mailing_created_and_disabled_is_logged(owner: User, manager: User, caplog: Any) -> None:
    caplog.set_level("INFO")
    now = timezone.now()
    mailing = mailing_create(
        owner=owner,
        message=make_message(owner),
        recipients=[make_recipient(owner)],
        start_at=now + timedelta(days=1),
        end_at=now + timedelta(days=2),
        periodicity=Mailing.Periodicity.ONCE,
    )
    mailing_disable(mailing=mailing, actor=manager, reason="жалобы")
    assert f"mailing created: owner={owner.pk} mailing={mailing.pk}" in caplog.text
    assert f"mailing disabled: mailing={mailing.pk}" in caplog.text


def test_a_run_is_logged_from_start_to_finish_with_its_counts(owner: User, settings: Any, caplog: Any) -> None:
    caplog.set_level("INFO")
    server = smtp_server_on_free_port()
    fast_settings(settings, port=server.controller.port)
    server.handler.on_rcpt = lambda address: "550 5.1.1 User unknown" if address.startswith("b@") else None
    try:
        _mailing, attempt = make_run(owner, ["a@example.com", "b@example.com"])
        attempt_deliver(attempt_id=attempt.pk)
    finally:
        server.stop()
    assert f"run started: mailing={attempt.mailing_id} attempt={attempt.pk}" in caplog.text
    assert f"run finished: attempt={attempt.pk} status=failure total=2 sent=1 failed=1" in caplog.text


def test_the_breaker_and_a_block_are_logged(owner: User, manager: User, caplog: Any) -> None:
    caplog.set_level("INFO")
    breaker_open(
        account="smtp.example.com:465:news",
        reason=reason("connection_refused", error="connection refused"),
        now=timezone.now(),
    )
    breaker_close(account="smtp.example.com:465:news", now=timezone.now())
    user_block(user=owner, actor=manager, reason="спам")
    assert "breaker opened" in caplog.text
    assert "breaker closed" in caplog.text
    assert f"user blocked: id={owner.pk}" in caplog.text
