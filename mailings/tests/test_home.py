import pytest
from django.test import Client
from django.urls import reverse

from core.data_versions import data_version_bump_everyone
from mailings.models import Mailing
from mailings.tests.world import make_mailing, make_recipient
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def known_world(owner: User, other_user: User) -> None:
    make_mailing(owner, status=Mailing.Status.RUNNING)
    make_mailing(owner, status=Mailing.Status.CREATED)
    make_mailing(owner, status=Mailing.Status.FINISHED)
    make_mailing(other_user, status=Mailing.Status.RUNNING)
    make_mailing(other_user, status=Mailing.Status.RUNNING)
    make_recipient(owner, "anna@example.com")
    make_recipient(owner, "boris@example.com")
    make_recipient(other_user, "Anna@Example.com")  # the same address in another address book
    make_recipient(other_user, "vera@example.com")


def test_a_visitor_sees_service_wide_totals_and_calls_to_action(client: Client, known_world: None) -> None:
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert response.context["figures"] == {"mailings_total": 5, "mailings_active": 3, "recipients_unique": 3}
    html = response.content.decode()
    assert reverse("users:register") in html and reverse("users:login") in html
    assert "Вестник — рассылки для вашего бизнеса" in html
    assert "anna@example.com" not in html.lower()


def test_a_signed_in_user_sees_their_own_figures(client: Client, owner: User, known_world: None) -> None:
    client.force_login(owner)
    response = client.get(reverse("home"))
    assert response.context["figures"] == {"mailings_total": 3, "mailings_active": 1, "recipients_unique": 2}
    html = response.content.decode()
    assert "Ваших рассылок" in html
    assert reverse("mailings:mailing_create") in html


def test_the_navigation_shows_the_sections_to_signed_in_users_only(client: Client, owner: User) -> None:
    sections = ["mailing_list", "message_list", "recipient_list", "attempt_list", "stats"]
    html = client.get(reverse("home")).content.decode()
    assert not any(reverse(f"mailings:{name}") in html for name in sections)
    client.force_login(owner)
    html = client.get(reverse("home")).content.decode()
    assert all(reverse(f"mailings:{name}") in html for name in sections)


def test_an_empty_service_shows_zeros(client: Client) -> None:
    response = client.get(reverse("home"))
    assert response.context["figures"] == {"mailings_total": 0, "mailings_active": 0, "recipients_unique": 0}


def test_a_manager_sees_the_service_wide_figures(client: Client, manager: User, known_world: None) -> None:
    client.force_login(manager)
    response = client.get(reverse("home"))
    assert response.context["figures"] == {"mailings_total": 5, "mailings_active": 3, "recipients_unique": 3}
    assert "Рассылок в сервисе" in response.content.decode()


def test_a_disabled_mailing_or_a_blocked_owners_is_not_active(
    client: Client, owner: User, other_user: User, known_world: None
) -> None:
    Mailing.objects.filter(owner=owner, status=Mailing.Status.RUNNING).update(is_enabled=False)
    User.objects.filter(pk=other_user.pk).update(is_active=False)
    data_version_bump_everyone()
    assert client.get(reverse("home")).context["figures"]["mailings_active"] == 0
    client.force_login(owner)
    assert client.get(reverse("home")).context["figures"] == {
        "mailings_total": 3,
        "mailings_active": 0,
        "recipients_unique": 2,
    }
