from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from users.models import User
from users.roles import MANAGERS_GROUP


@pytest.mark.django_db
def test_it_creates_the_managers_group_with_read_and_moderation_permissions_only() -> None:
    call_command("create_managers", stdout=StringIO())
    codenames = set(Group.objects.get(name=MANAGERS_GROUP).permissions.values_list("codename", flat=True))
    assert codenames == {
        "view_all_users",
        "block_user",
        "view_all_recipients",
        "view_all_messages",
        "view_all_mailings",
        "disable_mailing",
        "view_all_smtp_accounts",
        "disable_smtp_account",
        "view_all_lists",
        "view_all_webhook_endpoints",
        "view_all_bounce_mailboxes",
        "view_all_suppressions",
    }
    assert not any(c.startswith(("change_", "delete_", "add_")) for c in codenames)


@pytest.mark.django_db
def test_it_is_idempotent_and_adds_a_user(owner: User) -> None:
    call_command("create_managers", stdout=StringIO())
    call_command("create_managers", "--add", owner.email.upper(), stdout=StringIO())
    assert Group.objects.filter(name=MANAGERS_GROUP).count() == 1
    assert owner.groups.filter(name=MANAGERS_GROUP).exists()


@pytest.mark.django_db
def test_it_fails_clearly_for_an_unknown_email() -> None:
    with pytest.raises(CommandError, match="No user with email"):
        call_command("create_managers", "--add", "nobody@example.com", stdout=StringIO())
