from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mailings.delivery.engine import run_block_reason
from mailings.management.commands.seed_demo import REAL_SERVER_REASON
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from users.models import AuditEvent, User

pytestmark = pytest.mark.django_db

MODELS = [User, Recipient, Message, Mailing, Attempt, Delivery]


def _counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in MODELS}


def test_it_creates_a_demo_world_with_every_status_and_state() -> None:
    call_command("seed_demo", stdout=None)
    demo = User.objects.get(email="demo@vestnik.local")
    assert demo.check_password("vestnik-demo")
    assert User.objects.get(email="admin@vestnik.local").is_superuser
    assert Recipient.objects.filter(owner=demo).count() == 12
    assert Message.objects.filter(owner=demo).count() == 4
    mailings = Mailing.objects.filter(owner=demo)
    assert set(mailings.values_list("status", flat=True)) == set(Mailing.Status.values)
    disabled = mailings.get(is_enabled=False)
    assert disabled.disabled_by is not None
    assert disabled.disabled_by.has_perm("mailings.disable_mailing") and disabled.disabled_reason
    deliveries = Delivery.objects.filter(attempt__mailing__owner=demo)
    assert set(deliveries.values_list("state", flat=True)) == set(Delivery.State.values)
    assert set(Attempt.objects.values_list("status", flat=True)) == set(Attempt.Status.values)
    assert Attempt.objects.filter(
        server_response__contains="550 5.1.1: Recipient address rejected: User unknown ×"
    ).exists()
    assert deliveries.filter(smtp_reply__startswith="250 2.0.0 Ok: queued as").exists()
    assert deliveries.filter(smtp_reply__contains="Recipient address rejected: User unknown").exists()


def test_running_it_twice_duplicates_nothing() -> None:
    call_command("seed_demo", stdout=None)
    first = _counts()
    call_command("seed_demo", stdout=None)
    assert _counts() == first


def test_every_page_answers_200_for_the_demo_user(client: Client) -> None:
    call_command("seed_demo", stdout=None)
    demo = User.objects.get(email="demo@vestnik.local")
    client.force_login(demo)
    urls = [
        reverse("home"),
        reverse("mailings:recipient_list"),
        reverse("mailings:recipient_create"),
        reverse("mailings:message_list"),
        reverse("mailings:message_create"),
        reverse("mailings:mailing_list"),
        reverse("mailings:mailing_create"),
        reverse("mailings:attempt_list"),
        reverse("mailings:stats"),
    ]
    for recipient in Recipient.objects.filter(owner=demo):
        urls += [reverse(f"mailings:recipient_{view}", args=[recipient.pk]) for view in ("detail", "update", "delete")]
    for message in Message.objects.filter(owner=demo):
        urls += [reverse(f"mailings:message_{view}", args=[message.pk]) for view in ("detail", "update", "delete")]
    for mailing in Mailing.objects.filter(owner=demo):
        urls += [reverse(f"mailings:mailing_{view}", args=[mailing.pk]) for view in ("detail", "update", "delete")]
        urls.append(f"{reverse('mailings:attempt_list')}?mailing={mailing.pk}&status=success")
    for attempt in Attempt.objects.filter(mailing__owner=demo):
        urls.append(reverse("mailings:attempt_detail", args=[attempt.pk]))
    for url in urls:
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_the_demo_attempts_follow_the_engines_rule_for_success() -> None:
    call_command("seed_demo", stdout=None)
    for attempt in Attempt.objects.filter(status__in=[Attempt.Status.SUCCESS, Attempt.Status.FAILURE]):
        states = set(Delivery.objects.filter(attempt=attempt).values_list("state", flat=True))
        all_sent = states == {Delivery.State.SENT}
        assert (attempt.status == Attempt.Status.SUCCESS) == all_sent, attempt


@pytest.mark.django_db
def test_the_home_page_shows_demo_articles_once_however_often_it_runs(client: Client) -> None:
    from blog.models import Article

    call_command("seed_demo", stdout=None)
    call_command("seed_demo", stdout=None)
    assert Article.objects.public().count() == 3
    assert "Как не попасть в спам" in client.get(reverse("home")).content.decode()


def test_the_demo_managers_journal_records_the_disabled_mailing(settings: Any) -> None:
    settings.EMAIL_USES_MAILSINK = True
    call_command("seed_demo", stdout=None)
    disabled = Mailing.objects.get(owner__email="demo@vestnik.local", is_enabled=False)
    event = AuditEvent.objects.get(action=AuditEvent.Action.MAILING_DISABLED, target_id=disabled.pk)
    assert event.actor == disabled.disabled_by
    assert event.reason == disabled.disabled_reason
    assert event.created_at == disabled.disabled_at


def test_with_a_real_mail_server_no_demo_mailing_is_created(settings: Any) -> None:
    settings.EMAIL_USES_MAILSINK = False
    call_command("seed_demo", stdout=None)
    demo = User.objects.get(email="demo@vestnik.local")
    assert Recipient.objects.filter(owner=demo).count() == 12
    assert not Mailing.objects.filter(owner=demo).exists()
    assert not Delivery.objects.exists()


@pytest.mark.parametrize("args", [[], ["--guard-only"]])
def test_demo_mailings_loaded_earlier_are_disabled_once_a_real_server_is_set(settings: Any, args: list[str]) -> None:
    settings.EMAIL_USES_MAILSINK = True
    call_command("seed_demo", stdout=None)
    assert Mailing.objects.filter(owner__email="demo@vestnik.local", is_enabled=True).count() == 3
    settings.EMAIL_USES_MAILSINK = False
    call_command("seed_demo", *args, stdout=None)
    mailings = Mailing.objects.filter(owner__email="demo@vestnik.local")
    assert not mailings.filter(is_enabled=True).exists()
    # The engine stops a run in progress of a disabled mailing before its next message.
    assert run_block_reason(attempt_id=Attempt.objects.get(status=Attempt.Status.IN_PROGRESS).pk, now=timezone.now())
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MAILING_DISABLED, reason=REAL_SERVER_REASON).count() == 3


def test_the_guard_leaves_demo_mailings_alone_with_the_local_sink(settings: Any) -> None:
    settings.EMAIL_USES_MAILSINK = True
    call_command("seed_demo", stdout=None)
    call_command("seed_demo", "--guard-only", stdout=None)
    assert Mailing.objects.filter(owner__email="demo@vestnik.local", is_enabled=True).count() == 3


def test_the_published_superuser_password_only_in_a_development_run(settings: Any, tmp_path: Path) -> None:
    settings.DEBUG = False
    call_command("seed_demo", stdout=None)
    admin = User.objects.get(email="admin@vestnik.local")
    assert admin.is_superuser and not admin.has_usable_password()

    password_file = tmp_path / "admin_password"
    password_file.write_text("generated-Secret-42\n", encoding="utf-8")
    call_command("seed_demo", "--admin-password-file", str(password_file), stdout=None)
    admin.refresh_from_db()
    assert admin.check_password("generated-Secret-42")


def test_a_development_run_keeps_the_published_password_and_a_later_run_replaces_it(
    settings: Any, tmp_path: Path
) -> None:
    settings.DEBUG = True
    call_command("seed_demo", stdout=None)
    assert User.objects.get(email="admin@vestnik.local").check_password("vestnik-demo")
    settings.DEBUG = False
    password_file = tmp_path / "admin_password"
    password_file.write_text("generated-Secret-42", encoding="utf-8")
    call_command("seed_demo", "--admin-password-file", str(password_file), stdout=None)
    assert User.objects.get(email="admin@vestnik.local").check_password("generated-Secret-42")


def test_tools_with_a_sink_of_their_own_may_ask_for_the_demo_mailings(settings: Any) -> None:
    settings.EMAIL_USES_MAILSINK = False
    call_command("seed_demo", "--with-mailings", stdout=None)
    assert Mailing.objects.filter(owner__email="demo@vestnik.local").count() == 4
