"""`manage.py bounce_ingest [--owner ID] < message.eml`: a mail server pipes a bounce report in."""

import io
import sys
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from bounces.models import Bounce
from bounces.tests.support import sample
from mailings.delivery.compose import delivery_message_id
from mailings.models import Delivery
from mailings.tests.world import make_attempt, make_mailing
from users.models import User

pytestmark = pytest.mark.django_db


def _sent(owner: User) -> Delivery:
    attempt = make_attempt(make_mailing(owner), states=["sent"])
    Delivery.objects.filter(attempt=attempt).update(finished_at=timezone.now())
    return attempt.deliveries.get()


def _run(monkeypatch: Any, raw: bytes, *args: str) -> str:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()
    call_command("bounce_ingest", *args, stdout=out)
    return out.getvalue()


def test_the_report_itself_names_the_owner(monkeypatch: Any, owner: User) -> None:
    d = _sent(owner)
    mid = delivery_message_id(delivery_id=d.pk, domain="example.com")
    out = _run(monkeypatch, sample("yandex", rcpt=d.email, message_id=mid))
    bounce = Bounce.objects.get()
    assert (bounce.owner_id, bounce.delivery_id, bounce.kind, bounce.source) == (owner.pk, d.pk, "hard", "stdin")
    assert f"recorded: {d.email} hard 5.7.1 delivery={d.pk}" in out


def test_with_owner_the_address_matches_a_recent_delivery(monkeypatch: Any, owner: User) -> None:
    d = _sent(owner)
    _run(monkeypatch, sample("mailru", rcpt=d.email), "--owner", str(owner.pk))
    assert Bounce.objects.get().delivery_id == d.pk


def test_an_auto_reply_is_read_and_left_alone(monkeypatch: Any, owner: User) -> None:
    d = _sent(owner)
    mid = delivery_message_id(delivery_id=d.pk, domain="example.com")
    out = _run(monkeypatch, sample("ooo", rcpt=d.email, message_id=mid), "--owner", str(owner.pk))
    assert "not a bounce report or complaint" in out and not Bounce.objects.exists()


@pytest.mark.parametrize(
    ("raw", "args", "error"),
    [
        (b"", (), "not an email message"),
        (b"", ("--owner", "999999"), "no user with id 999999"),
        (None, (), "names no delivery of ours"),
    ],
)
def test_bad_input_is_a_clear_error(monkeypatch: Any, owner: User, raw: bytes | None, args: Any, error: str) -> None:
    data = raw if raw is not None else sample("postfix", rcpt="someone@example.org")
    with pytest.raises(CommandError, match=error):
        _run(monkeypatch, data, *args)
    assert not Bounce.objects.exists()


def test_bad_input_exits_non_zero_from_the_shell(owner: User, tmp_path: Any) -> None:
    import subprocess

    from django.conf import settings

    result = subprocess.run(
        [sys.executable, "manage.py", "bounce_ingest"],
        input=b"",
        capture_output=True,
        cwd=settings.BASE_DIR,
        env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "x", "DEBUG": "false", "DATABASE_URL": f"sqlite:///{tmp_path}/db"},
    )
    assert result.returncode == 1 and b"not an email message" in result.stderr


def test_a_recorded_bounce_is_a_webhook_event_and_suppresses_the_address(monkeypatch: Any, owner: User) -> None:
    import json

    from suppressions.models import Suppression
    from webhooks.models import WebhookEndpoint, WebhookMessage

    endpoint = WebhookEndpoint.objects.create(owner=owner, url="https://shop.example.com/h", events=["bounce.recorded"])
    d = _sent(owner)
    mid = delivery_message_id(delivery_id=d.pk, domain="example.com")
    _run(monkeypatch, sample("yandex", rcpt=d.email, message_id=mid))
    _run(monkeypatch, sample("yandex", rcpt=d.email, message_id=mid))  # the same report again: nothing new

    (message,) = WebhookMessage.objects.filter(event="bounce.recorded")
    assert message.endpoint == endpoint
    data = json.loads(message.body)["data"]
    assert (data["email"], data["kind"], data["status"], data["delivery_id"]) == (d.email, "hard", "5.7.1", d.pk)
    assert Suppression.objects.get(owner=owner).source == "bounce_hard"
