"""A disabled mailing or a blocked owner sends nothing: not by schedule, not by hand, not from the command line,
and not the rest of a run already going. Blocking and disabling go through the managers' services."""

import asyncio
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mailings.delivery.engine import attempt_deliver
from mailings.delivery.schedule import scheduler_tick
from mailings.models import Attempt, Delivery, Mailing
from mailings.tests.sending_support import (
    ServerFactory,
    fast_settings,
    make_run,
    serving,
    states,
)
from moderation.services import mailing_disable, mailing_enable, user_block, user_unblock
from tests.support import SinkHandler, SmtpServer
from users.models import User

S = Delivery.State
FIVE = [f"{x}@example.com" for x in "abcde"]


def _due_mailing(owner: User) -> Mailing:
    """A mailing whose window is open and whose first run is due now (no attempt yet)."""
    mailing, attempt = make_run(owner, ["a@example.com", "b@example.com"])
    attempt.delete()
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    return Mailing.objects.get(pk=mailing.pk)


def _stop(change: str, mailing: Mailing, owner: User, manager: User) -> None:
    if change == "disable":
        mailing_disable(mailing=mailing, actor=manager, reason="жалобы получателей")
    else:
        user_block(user=owner, actor=manager, reason="рассылает спам")


CHANGES = pytest.mark.parametrize("change", ["disable", "block"])


@CHANGES
@pytest.mark.django_db
def test_the_scheduler_does_not_start_it(server: SmtpServer, owner: User, manager: User, change: str) -> None:
    mailing = _due_mailing(owner)
    _stop(change, mailing, owner, manager)

    result = scheduler_tick(now=timezone.now())

    assert result.started == 0
    assert not Attempt.objects.filter(mailing=mailing).exists()


@CHANGES
@pytest.mark.django_db
def test_the_send_button_refuses_it(
    client: Client, server: SmtpServer, owner: User, manager: User, change: str
) -> None:
    mailing = _due_mailing(owner)
    client.force_login(owner)
    if change == "disable":
        mailing_disable(mailing=mailing, actor=manager, reason="жалобы получателей")
        response = client.post(reverse("mailings:mailing_send", args=[mailing.pk]))
        assert response.status_code == 302
        assert any("отключена" in str(m) for m in get_messages(response.wsgi_request))
    else:
        user_block(user=owner, actor=manager, reason="рассылает спам")
        response = client.post(reverse("mailings:mailing_send", args=[mailing.pk]))
        assert response.status_code == 302 and response["Location"] == reverse("users:login")  # logged out first
    assert not Attempt.objects.filter(mailing=mailing).exists()


@CHANGES
@pytest.mark.django_db
def test_the_command_line_refuses_it(server: SmtpServer, owner: User, manager: User, change: str) -> None:
    mailing = _due_mailing(owner)
    _stop(change, mailing, owner, manager)

    with pytest.raises(CommandError, match="отключена" if change == "disable" else "заблокирован"):
        call_command("send_mailing", str(mailing.pk), "--wait", stdout=StringIO())

    assert not Attempt.objects.filter(mailing=mailing).exists()
    assert server.messages == []


@CHANGES
@pytest.mark.django_db
def test_undoing_it_lets_the_scheduler_start_the_mailing_as_before(
    server: SmtpServer, owner: User, manager: User, change: str
) -> None:
    mailing = _due_mailing(owner)
    _stop(change, mailing, owner, manager)
    assert scheduler_tick(now=timezone.now()).started == 0
    if change == "disable":
        mailing_enable(mailing=Mailing.objects.get(pk=mailing.pk), actor=manager)
    else:
        user_unblock(user=User.objects.get(pk=owner.pk), actor=manager)

    assert scheduler_tick(now=timezone.now()).started == 1
    assert Attempt.objects.filter(mailing=mailing, trigger=Attempt.Trigger.SCHEDULE).count() == 1


@pytest.mark.django_db
def test_a_run_that_was_queued_before_the_block_skips_everyone(server: SmtpServer, owner: User, manager: User) -> None:
    _mailing, attempt = make_run(owner, FIVE)
    user_block(user=owner, actor=manager, reason="рассылает спам")

    attempt_deliver(attempt_id=attempt.pk)

    assert set(states(attempt).values()) == {S.SKIPPED}
    assert {d.reason_text for d in Delivery.objects.filter(attempt=attempt)} == {"владелец заблокирован"}
    assert server.messages == []


@CHANGES
@pytest.mark.django_db(transaction=True)
def test_a_manager_stopping_it_mid_run_stops_the_rest(settings: Any, owner: User, manager: User, change: str) -> None:
    """The manager acts (through the service, from another thread) while the worker waits on b's RCPT."""
    fast_settings(settings, port=9)
    settings.SEND_BATCH_SIZE = 2
    handler = SinkHandler()
    mailing, attempt = make_run(owner, FIVE)

    def act() -> None:
        _stop(change, Mailing.objects.select_related("message", "owner").get(pk=mailing.pk), owner, manager)
        connections.close_all()

    async def on_rcpt(address: str) -> None:
        if address == "b@example.com":
            await asyncio.to_thread(act)

    handler.on_rcpt = on_rcpt
    try:
        with serving(ServerFactory(handler)) as factory:
            settings.EMAIL_PORT = factory.port
            attempt_deliver(attempt_id=attempt.pk)
    finally:
        connections.close_all()

    got = states(attempt)
    # b was already in the server's hands; nobody after it was sent anything.
    assert [got[e] for e in FIVE] == [S.SENT, S.SENT, S.SKIPPED, S.SKIPPED, S.SKIPPED]
    reason = "рассылка отключена" if change == "disable" else "владелец заблокирован"
    assert {d.reason_text for d in Delivery.objects.filter(attempt=attempt, state=S.SKIPPED)} == {reason}
    received = sorted(r for m in handler.messages for r in m.rcpt_tos)
    assert received == ["a@example.com", "b@example.com"]
    attempt.refresh_from_db()
    assert attempt.is_final and attempt.skipped_count == 3
