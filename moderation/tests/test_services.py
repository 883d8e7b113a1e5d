"""user_block / user_unblock and mailing_disable / mailing_enable: the fields, the refusals, the audit log."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import DatabaseError
from django.utils import timezone

from mailings.models import Mailing
from mailings.tests.world import make_mailing, make_recipient
from moderation.services import ModerationRefused, mailing_disable, mailing_enable, user_block, user_unblock
from users.models import AuditEvent, User, UserState

pytestmark = pytest.mark.django_db


def test_blocking_records_who_when_why_and_lets_nobody_in(owner: User, manager: User) -> None:
    user_block(user=owner, actor=manager, reason="  рассылает спам  ")

    owner.refresh_from_db()
    assert owner.is_active is False and owner.state == UserState.BLOCKED
    assert owner.blocked_by == manager and owner.block_reason == "рассылает спам"
    assert owner.blocked_at is not None
    assert abs((timezone.now() - owner.blocked_at).total_seconds()) < 5
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_email, event.action) == (manager, manager.email, AuditEvent.Action.USER_BLOCKED)
    assert (event.target_type, event.target_id, event.target_user) == ("user", owner.pk, owner)
    assert (event.target_repr, event.reason) == (owner.email, "рассылает спам")


@pytest.mark.parametrize("who", ["self", "superuser"])
def test_a_manager_cannot_block_themselves_or_a_superuser(manager: User, who: str) -> None:
    target = manager
    if who == "superuser":
        target = User.objects.create_superuser(
            email="root@example.com", password="x", email_confirmed_at=timezone.now()
        )

    with pytest.raises(ModerationRefused):
        user_block(user=target, actor=manager, reason="причина")

    target.refresh_from_db()
    assert target.blocked_at is None and target.is_active
    assert not AuditEvent.objects.exists()


def test_blocking_needs_a_reason_and_happens_once(owner: User, manager: User) -> None:
    with pytest.raises(ModerationRefused):
        user_block(user=owner, actor=manager, reason="   ")
    user_block(user=owner, actor=manager, reason="спам")
    with pytest.raises(ModerationRefused):
        user_block(user=User.objects.get(pk=owner.pk), actor=manager, reason="ещё раз")
    assert AuditEvent.objects.count() == 1
    assert User.objects.get(pk=owner.pk).block_reason == "спам"


def test_unblocking_restores_a_confirmed_user_and_leaves_the_mailings_alone(owner: User, manager: User) -> None:
    mailing = make_mailing(owner, recipients=[make_recipient(owner)], status=Mailing.Status.RUNNING)
    disabled = make_mailing(owner, is_enabled=False, disabled_reason="старое")
    before = list(Mailing.objects.order_by("pk").values())
    user_block(user=owner, actor=manager, reason="спам")

    user_unblock(user=owner, actor=manager, reason="разобрались")

    owner.refresh_from_db()
    assert owner.is_active and owner.state == UserState.ACTIVE
    assert (owner.blocked_at, owner.blocked_by, owner.block_reason) == (None, None, "")
    assert list(Mailing.objects.order_by("pk").values()) == before
    assert {mailing.pk, disabled.pk} == set(Mailing.objects.values_list("pk", flat=True))
    assert list(AuditEvent.objects.order_by("pk").values_list("action", "reason")) == [
        (AuditEvent.Action.USER_BLOCKED, "спам"),
        (AuditEvent.Action.USER_UNBLOCKED, "разобрались"),
    ]


def test_unblocking_an_unconfirmed_user_leaves_them_unconfirmed(manager: User) -> None:
    user = User.objects.create_user(email="new@example.com", password="x", is_active=False)
    user_block(user=user, actor=manager, reason="спам")

    user_unblock(user=user, actor=manager)

    user.refresh_from_db()
    assert user.is_active is False and user.state == UserState.UNCONFIRMED


def test_unblocking_someone_not_blocked_is_refused(owner: User, manager: User) -> None:
    with pytest.raises(ModerationRefused):
        user_unblock(user=owner, actor=manager)
    assert not AuditEvent.objects.exists()


def test_disabling_records_who_when_why(owner: User, manager: User) -> None:
    mailing = make_mailing(owner)

    mailing_disable(mailing=mailing, actor=manager, reason="жалобы получателей")

    mailing.refresh_from_db()
    assert mailing.is_enabled is False and mailing.disabled_by == manager
    assert mailing.disabled_reason == "жалобы получателей" and mailing.disabled_at is not None
    event = AuditEvent.objects.get()
    assert (event.action, event.target_type, event.target_id) == (
        AuditEvent.Action.MAILING_DISABLED,
        "mailing",
        mailing.pk,
    )
    assert event.target_user == owner and f"#{mailing.pk}" in event.target_repr and owner.email in event.target_repr


def test_enabling_restores_the_mailing_as_it_was(owner: User, manager: User) -> None:
    mailing = make_mailing(owner, status=Mailing.Status.RUNNING, next_run_at=timezone.now())
    before = Mailing.objects.filter(pk=mailing.pk).values("status", "next_run_at", "start_at", "end_at").get()
    mailing_disable(mailing=mailing, actor=manager, reason="жалобы")

    mailing_enable(mailing=Mailing.objects.get(pk=mailing.pk), actor=manager)

    row = (
        Mailing.objects.filter(pk=mailing.pk)
        .values(
            "status", "next_run_at", "start_at", "end_at", "is_enabled", "disabled_at", "disabled_by", "disabled_reason"
        )
        .get()
    )
    assert row == {**before, "is_enabled": True, "disabled_at": None, "disabled_by": None, "disabled_reason": ""}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MAILING_ENABLED).count() == 1


def test_disabling_twice_or_without_a_reason_and_enabling_an_enabled_mailing_are_refused(
    owner: User, manager: User
) -> None:
    mailing = make_mailing(owner)
    with pytest.raises(ModerationRefused):
        mailing_disable(mailing=mailing, actor=manager, reason="")
    with pytest.raises(ModerationRefused):
        mailing_enable(mailing=mailing, actor=manager)
    mailing_disable(mailing=mailing, actor=manager, reason="жалобы")
    with pytest.raises(ModerationRefused):
        mailing_disable(mailing=mailing, actor=manager, reason="ещё")
    assert AuditEvent.objects.count() == 1


def test_the_change_and_its_audit_line_commit_together(owner: User, manager: User) -> None:
    mailing = make_mailing(owner)
    with mock.patch("moderation.services.AuditEvent.objects.create", side_effect=DatabaseError("disk full")):
        with pytest.raises(DatabaseError):
            user_block(user=owner, actor=manager, reason="спам")
        with pytest.raises(DatabaseError):
            mailing_disable(mailing=mailing, actor=manager, reason="жалобы")

    assert User.objects.get(pk=owner.pk).blocked_at is None
    assert Mailing.objects.get(pk=mailing.pk).is_enabled


def test_the_log_outlives_the_people_in_it(owner: User, manager: User) -> None:
    user_block(user=owner, actor=manager, reason="спам")
    manager.delete()
    owner.delete()
    event = AuditEvent.objects.get()
    assert (event.actor, event.target_user) == (None, None)
    assert (event.actor_email, event.target_repr) == ("manager@example.com", "owner@example.com")


def _daily_mailing_that_ran(owner: User) -> Mailing:
    """A daily mailing at 10:00 (local) that has run on schedule; its next slot is tomorrow at 10:00."""
    from datetime import timedelta

    from mailings.models import Attempt

    start = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=3)
    mailing = make_mailing(
        owner,
        recipients=[make_recipient(owner)],
        start_at=start,
        end_at=start + timedelta(days=30),
        periodicity=Mailing.Periodicity.DAILY,
        status=Mailing.Status.RUNNING,
        next_run_at=start + timedelta(days=4),
    )
    Attempt.objects.create(
        mailing=mailing, trigger=Attempt.Trigger.SCHEDULE, scheduled_for=start, status=Attempt.Status.SUCCESS
    )
    return mailing


def _assert_continues_on_the_calendar_without_making_up_runs(mailing: Mailing) -> None:
    from mailings.delivery.schedule import scheduler_tick
    from mailings.models import Attempt

    mailing.refresh_from_db()
    now = timezone.now()
    assert mailing.next_run_at is not None
    assert now < mailing.next_run_at <= now + timedelta(days=1)
    assert timezone.localtime(mailing.next_run_at).hour == 10
    scheduler_tick(now=now)
    # No late run and no slot recorded as skipped for "the service was away": the pause was a decision.
    assert Attempt.objects.filter(mailing=mailing).count() == 1


def test_enabling_continues_the_calendar_without_making_up_runs_missed_while_disabled(
    owner: User, manager: User
) -> None:
    import time_machine

    mailing = _daily_mailing_that_ran(owner)
    mailing_disable(mailing=mailing, actor=manager, reason="проверка")
    with time_machine.travel(timezone.now() + timedelta(days=3, hours=1), tick=False):
        mailing_enable(mailing=Mailing.objects.get(pk=mailing.pk), actor=manager, reason="проверено")

        _assert_continues_on_the_calendar_without_making_up_runs(mailing)


def test_unblocking_continues_the_calendar_without_making_up_runs_missed_while_blocked(
    owner: User, manager: User
) -> None:
    import time_machine

    mailing = _daily_mailing_that_ran(owner)
    user_block(user=owner, actor=manager, reason="спам")
    with time_machine.travel(timezone.now() + timedelta(days=3, hours=1), tick=False):
        user_unblock(user=User.objects.get(pk=owner.pk), actor=manager, reason="разобрались")

        _assert_continues_on_the_calendar_without_making_up_runs(mailing)


def test_enabling_right_after_disabling_keeps_a_run_that_was_already_due(owner: User, manager: User) -> None:
    mailing = _daily_mailing_that_ran(owner)
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=timezone.now())
    mailing_disable(mailing=Mailing.objects.get(pk=mailing.pk), actor=manager, reason="проверка")
    due = Mailing.objects.get(pk=mailing.pk).next_run_at

    mailing_enable(mailing=Mailing.objects.get(pk=mailing.pk), actor=manager)

    assert Mailing.objects.get(pk=mailing.pk).next_run_at == due


def test_a_manager_cannot_block_another_manager_but_a_superuser_can(manager: User) -> None:
    from users.roles import MANAGERS_GROUP

    colleague = User.objects.create_user(email="colleague@example.com", password="x", email_confirmed_at=timezone.now())
    colleague.groups.add(manager.groups.get(name=MANAGERS_GROUP))
    with pytest.raises(ModerationRefused):
        user_block(user=colleague, actor=manager, reason="спор")
    root = User.objects.create_superuser(email="root@example.com", password="x", email_confirmed_at=timezone.now())
    user_block(user=User.objects.get(pk=colleague.pk), actor=root, reason="ушёл из компании")
    assert User.objects.get(pk=colleague.pk).is_blocked
