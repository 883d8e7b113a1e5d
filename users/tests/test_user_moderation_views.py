"""The managers' users page, blocking and unblocking from it, the audit log page and the menu."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from moderation.services import user_block
from users.models import AuditEvent, User

USERS = reverse("users:user_list")
AUDIT = reverse("users:audit_log")


@pytest.fixture
def manager_client(client: Client, manager: User) -> Client:
    client.force_login(manager)
    return client


def _row(content: str, email: str) -> str:
    start = content.index(email)
    return content[start : content.index("</tr>", start)]


def test_the_users_page_shows_each_users_state_and_only_the_allowed_buttons(
    manager_client: Client, manager: User, owner: User, blocked_user: User
) -> None:
    User.objects.create_user(email="new@example.com", password="x", is_active=False)
    User.objects.create_superuser(email="root@example.com", password="x", email_confirmed_at=timezone.now())

    content = manager_client.get(USERS).content.decode()

    owner_row = _row(content, "owner@example.com")
    assert "Активен" in owner_row and reverse("users:user_block", args=[owner.pk]) in owner_row
    assert f"/mailings/?owner={owner.pk}" in owner_row
    blocked_row = _row(content, "blocked@example.com")
    assert "Заблокирован" in blocked_row and "spam" in blocked_row and "manager@example.com" in blocked_row
    assert reverse("users:user_unblock", args=[blocked_user.pk]) in blocked_row
    assert "Не подтверждён" in _row(content, "new@example.com")
    assert "Заблокировать" not in _row(content, "root@example.com")
    assert "Заблокировать" not in _row(content, "manager@example.com")


def test_the_users_page_filters_by_state_and_text(manager_client: Client, owner: User, blocked_user: User) -> None:
    blocked = manager_client.get(USERS, {"state": "blocked"}).content.decode()
    assert "blocked@example.com" in blocked and "owner@example.com" not in blocked
    found = manager_client.get(USERS, {"q": "OWNER"}).content.decode()
    assert "owner@example.com" in found and "blocked@example.com" not in found


def test_blocking_from_the_page_needs_a_reason(manager_client: Client, owner: User) -> None:
    url = reverse("users:user_block", args=[owner.pk])
    assert manager_client.get(url).status_code == 200

    response = manager_client.post(url, {"reason": ""})

    assert response.status_code == 200 and response.context["form"].errors
    assert User.objects.get(pk=owner.pk).blocked_at is None and not AuditEvent.objects.exists()


def test_blocking_and_unblocking_from_the_page(manager_client: Client, manager: User, owner: User) -> None:
    response = manager_client.post(reverse("users:user_block", args=[owner.pk]), {"reason": "спам"}, follow=True)

    assert response.redirect_chain == [(USERS, 302)]
    assert "Пользователь owner@example.com заблокирован." in response.content.decode()
    owner.refresh_from_db()
    assert owner.is_blocked and owner.blocked_by == manager and not owner.is_active

    response = manager_client.post(reverse("users:user_unblock", args=[owner.pk]), {"reason": ""})

    assert response.status_code == 302
    owner.refresh_from_db()
    assert not owner.is_blocked and owner.is_active
    assert list(AuditEvent.objects.order_by("pk").values_list("action", flat=True)) == [
        AuditEvent.Action.USER_BLOCKED,
        AuditEvent.Action.USER_UNBLOCKED,
    ]


def test_a_manager_gets_403_for_blocking_themselves_or_a_superuser(manager_client: Client, manager: User) -> None:
    root = User.objects.create_superuser(email="root@example.com", password="x", email_confirmed_at=timezone.now())
    for target in (manager, root):
        url = reverse("users:user_block", args=[target.pk])
        assert manager_client.get(url).status_code == 403
        assert manager_client.post(url, {"reason": "x"}).status_code == 403
    assert not User.objects.filter(blocked_at__isnull=False).exists()


def test_blocking_someone_already_blocked_says_so(manager_client: Client, blocked_user: User) -> None:
    response = manager_client.post(reverse("users:user_block", args=[blocked_user.pk]), {"reason": "x"}, follow=True)
    assert "Пользователь уже заблокирован." in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_the_audit_log_is_paginated_newest_first_and_filters_by_action(
    manager_client: Client, manager: User, owner: User
) -> None:
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=manager,
            actor_email=manager.email,
            action=AuditEvent.Action.MAILING_DISABLED,
            target_type="mailing",
            target_id=i + 1,
            target_repr=f"#{i + 1} Тема",
            reason=f"причина {i}",
            created_at=timezone.now() - timedelta(minutes=60 - i),
        )
        for i in range(60)
    )
    user_block(user=owner, actor=manager, reason="спам")

    first = manager_client.get(AUDIT).content.decode()
    assert first.index("owner@example.com") < first.index("причина 59")
    assert "причина 10" not in first and "1 из 2" in first
    second = manager_client.get(AUDIT, {"page": 2}).content.decode()
    assert "причина 10" in second and "причина 0" in second
    only_blocks = manager_client.get(AUDIT, {"action": "user_blocked"}).content.decode()
    assert "owner@example.com" in only_blocks and "причина 59" not in only_blocks


def test_plain_users_cannot_read_the_audit_log_or_the_users(client: Client, owner: User) -> None:
    client.force_login(owner)
    assert client.get(AUDIT).status_code == 403
    assert client.get(USERS).status_code == 403


def test_the_menu_shows_managers_their_pages_and_everyone_the_blog(client: Client, owner: User, manager: User) -> None:
    client.force_login(owner)
    content = client.get(reverse("home")).content.decode()
    assert reverse("blog:list") in content and USERS not in content and AUDIT not in content
    client.force_login(manager)
    content = client.get(reverse("home")).content.decode()
    assert reverse("blog:list") in content and USERS in content and AUDIT in content


def test_the_block_form_leaves_validation_to_the_page_in_the_readers_language(
    manager_client: Client, owner: User
) -> None:
    url = reverse("users:user_block", args=[owner.pk])
    assert "novalidate" in manager_client.get(url).content.decode()
    english = manager_client.post(url, {"reason": ""}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "This field is required." in english
    assert "Обязательное поле." in manager_client.post(url, {"reason": ""}).content.decode()
