from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from users.models import User
from users.roles import CONTENT_MANAGERS_GROUP, MANAGERS_GROUP


@pytest.mark.django_db
def test_it_creates_the_content_managers_group_with_the_article_permissions_only() -> None:
    out = StringIO()
    call_command("create_managers", stdout=out)
    group = Group.objects.get(name="Контент-менеджеры")
    perms = set(group.permissions.values_list("content_type__app_label", "codename"))
    assert perms == {
        ("blog", "add_article"),
        ("blog", "change_article"),
        ("blog", "delete_article"),
        ("blog", "view_article"),
    }
    assert "«Контент-менеджеры»: 4 permissions" in out.getvalue()


def test_it_adds_a_user_to_the_content_managers(owner: User) -> None:
    call_command("create_managers", stdout=StringIO())
    call_command("create_managers", "--add", owner.email, "--group", "Контент-менеджеры", stdout=StringIO())
    assert Group.objects.filter(name=CONTENT_MANAGERS_GROUP).count() == 1
    assert list(owner.groups.values_list("name", flat=True)) == [CONTENT_MANAGERS_GROUP]
    user = User.objects.get(pk=owner.pk)  # a fresh instance: permissions are cached per instance
    assert user.has_perms(["blog.add_article", "blog.change_article", "blog.delete_article", "blog.view_article"])
    assert not user.has_perm("mailings.view_all_mailings")


def test_the_managers_group_gets_no_blog_permissions(manager: User) -> None:
    call_command("create_managers", stdout=StringIO())
    assert not Group.objects.get(name=MANAGERS_GROUP).permissions.filter(content_type__app_label="blog").exists()
    assert not User.objects.get(pk=manager.pk).has_perm("blog.add_article")
