"""`manage.py send_mailing <id> [--wait]`."""

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mailings.models import Attempt, Mailing
from mailings.tests.sending_support import make_run
from tests.support import SmtpServer
from users.models import User

pytestmark = pytest.mark.django_db


def _mailing(owner: User) -> Mailing:
    mailing, attempt = make_run(owner, ["a@example.com", "b@example.com"])
    attempt.delete()
    return mailing


def test_it_creates_a_command_line_run_and_returns(owner: User, server: SmtpServer) -> None:
    mailing = _mailing(owner)
    out = StringIO()
    call_command("send_mailing", str(mailing.pk), stdout=out)
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.trigger == Attempt.Trigger.COMMAND and attempt.status == Attempt.Status.IN_PROGRESS
    assert f"Запущена попытка #{attempt.pk}" in out.getvalue()
    assert server.messages == []


def test_wait_sends_and_prints_the_summary(owner: User, server: SmtpServer) -> None:
    server.handler.on_rcpt = lambda a: "550 5.1.1 User unknown" if a == "b@example.com" else None
    mailing = _mailing(owner)
    out = StringIO()
    call_command("send_mailing", str(mailing.pk), "--wait", stdout=out)
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.status == Attempt.Status.FAILURE
    text = out.getvalue()
    assert "Не успешно" in text and "Доставлено 1 из 2" in text
    assert "250 2.0.0 Ok ×1; 550 5.1.1 User unknown ×1" in text


def test_an_unknown_id_is_an_error(db: Any) -> None:
    with pytest.raises(CommandError, match="не найдена"):
        call_command("send_mailing", "999999")


def test_a_disabled_mailing_is_an_error(owner: User) -> None:
    mailing = _mailing(owner)
    Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)
    with pytest.raises(CommandError, match="отключена"):
        call_command("send_mailing", str(mailing.pk))
    assert not Attempt.objects.exists()


def test_a_blocked_owner_is_an_error(owner: User) -> None:
    mailing = _mailing(owner)
    User.objects.filter(pk=owner.pk).update(is_active=False, blocked_at=timezone.now())
    with pytest.raises(CommandError, match="заблокирован"):
        call_command("send_mailing", str(mailing.pk))
    assert not Attempt.objects.exists()


def test_timeout_bounds_the_wait_on_a_stalled_server(owner: User, server: SmtpServer) -> None:
    import asyncio

    async def stall(address: str) -> None:
        await asyncio.sleep(3)  # longer than EMAIL_TIMEOUT: every try times out, then waits out its back-off

    server.handler.on_rcpt = stall
    mailing = _mailing(owner)
    with pytest.raises(CommandError, match="--timeout"):
        call_command("send_mailing", str(mailing.pk), "--wait", "--timeout", "2", stdout=StringIO())

    assert Attempt.objects.get(mailing=mailing).status == Attempt.Status.IN_PROGRESS
    assert server.messages == []
