import pytest
from django.test import Client
from django.urls import reverse

from moderation.services import user_block
from users.models import AuditEvent, User


@pytest.fixture
def admin_client_(db: None) -> Client:
    admin = User.objects.create_superuser(email="root@example.com", password="root-Pass-123")
    client = Client()
    client.force_login(admin)
    return client


def test_the_list_shows_the_account_columns(admin_client_: Client, owner: User, blocked_user: User) -> None:
    response = admin_client_.get(reverse("admin:users_user_changelist"))
    assert response.status_code == 200
    content = response.content.decode()
    assert owner.email in content
    assert blocked_user.email in content
    assert "username" not in content
    for column in ("column-email", "column-full_name", "column-is_active", "column-confirmed", "column-blocked"):
        assert column in content


@pytest.mark.parametrize(
    ("query", "shown", "hidden"), [("blocked=yes", "blocked@", "owner@"), ("q=owner", "owner@", "blocked@")]
)
def test_filters_and_search(
    admin_client_: Client, owner: User, blocked_user: User, query: str, shown: str, hidden: str
) -> None:
    content = admin_client_.get(reverse("admin:users_user_changelist") + "?" + query).content.decode()
    assert shown in content
    assert f">{hidden}" not in content


def test_the_unconfirmed_filter(admin_client_: Client, owner: User) -> None:
    User.objects.create_user(email="new@example.com", password="x", is_active=False)
    response = admin_client_.get(reverse("admin:users_user_changelist") + "?confirmed=no")
    shown = {user.email for user in response.context["cl"].queryset}
    assert "new@example.com" in shown
    assert owner.email not in shown


def test_the_change_page_renders(admin_client_: Client, owner: User) -> None:
    response = admin_client_.get(reverse("admin:users_user_change", args=[owner.pk]))
    assert response.status_code == 200
    assert "username" not in response.content.decode()


def test_a_user_can_be_added_by_email(admin_client_: Client) -> None:
    response = admin_client_.post(
        reverse("admin:users_user_add"),
        {
            "email": "added@example.com",
            "usable_password": "true",
            "password1": "Added-pass-123",
            "password2": "Added-pass-123",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.get(email="added@example.com").check_password("Added-pass-123")


def test_the_audit_log_is_read_only_in_the_admin(admin_client_: Client, owner: User, manager: User) -> None:
    user_block(user=owner, actor=manager, reason="спам")
    event = AuditEvent.objects.get()
    response = admin_client_.get(reverse("admin:users_auditevent_changelist"))
    assert response.status_code == 200 and "owner@example.com" in response.content.decode()
    assert admin_client_.get(reverse("admin:users_auditevent_add")).status_code == 403
    response = admin_client_.post(reverse("admin:users_auditevent_delete", args=[event.pk]), {"post": "yes"})
    assert response.status_code == 403 and AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_the_admin_cannot_block_a_user_around_the_audit_log(owner: User) -> None:
    from django.test import Client
    from django.urls import reverse

    from users.models import User

    client = Client()
    client.force_login(User.objects.create_superuser(email="root@example.com", password="x"))
    page = client.get(reverse("admin:users_user_change", args=[owner.pk])).content.decode()
    assert 'name="block_reason"' not in page
    assert 'name="blocked_at_0"' not in page
