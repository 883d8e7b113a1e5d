"""users/fixtures/groups.json gives the staff groups exactly the permissions `create_managers` gives them."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from users.roles import GROUPS, groups_ensure

pytestmark = pytest.mark.django_db


def _permissions() -> dict[str, set[tuple[str, str]]]:
    return {
        group.name: set(group.permissions.values_list("content_type__app_label", "codename"))
        for group in Group.objects.order_by("name")
    }


def test_loading_the_fixture_gives_the_groups_of_create_managers() -> None:
    call_command("loaddata", "groups", stdout=StringIO())
    loaded = _permissions()

    assert loaded == {name: set(perms) for name, perms in GROUPS.items()}
    Group.objects.all().delete()
    groups_ensure()
    assert _permissions() == loaded


def test_loading_it_again_or_after_the_command_changes_nothing() -> None:
    call_command("create_managers", stdout=StringIO())
    before = _permissions()
    call_command("loaddata", "groups", stdout=StringIO())
    call_command("loaddata", "groups", stdout=StringIO())
    assert Group.objects.count() == len(GROUPS)
    assert _permissions() == before
