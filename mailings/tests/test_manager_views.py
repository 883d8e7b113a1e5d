"""Managers read everyone's recipients, messages, mailings, attempts and statistics, with the owner shown and a
filter by owner; they change only the enabled flag of a mailing. Pages show each person only their actions."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mailings.models import Attempt, Delivery, Mailing
from mailings.tests.world import make_attempt, make_mailing, make_message, make_recipient
from users.models import AuditEvent, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client: Client, manager: User) -> Client:
    client.force_login(manager)
    return client


def _two_owners(owner: User, other_user: User) -> dict[str, Mailing]:
    result = {}
    for user, subject in ((owner, "Тема владельца"), (other_user, "Тема другого")):
        recipient = make_recipient(user, f"client-of-{user.first_name}@example.com")
        mailing = make_mailing(user, message=make_message(user, subject), recipients=[recipient])
        make_attempt(mailing, states=[Delivery.State.SENT])
        result[user.first_name] = mailing
    return result


LISTS = ["mailings:recipient_list", "mailings:message_list", "mailings:mailing_list", "mailings:attempt_list"]


@pytest.mark.parametrize("name", LISTS)
def test_a_manager_sees_everyones_rows_with_the_owner(
    manager_client: Client, owner: User, other_user: User, name: str
) -> None:
    _two_owners(owner, other_user)

    content = manager_client.get(reverse(name)).content.decode()

    assert "Владелец" in content
    assert f"?owner={owner.pk}" in content and f"?owner={other_user.pk}" in content
    assert "owner@example.com" in content and "other@example.com" in content


@pytest.mark.parametrize("name", LISTS)
def test_a_manager_filters_by_owner(manager_client: Client, owner: User, other_user: User, name: str) -> None:
    _two_owners(owner, other_user)

    content = manager_client.get(reverse(name), {"owner": other_user.pk}).content.decode()

    assert "other@example.com" in content and "client-of-owner" not in content and "Тема владельца" not in content


@pytest.mark.parametrize("name", LISTS)
def test_a_plain_user_sees_only_their_rows_and_no_owner_column(
    client: Client, owner: User, other_user: User, name: str
) -> None:
    _two_owners(owner, other_user)
    client.force_login(owner)

    content = client.get(reverse(name), {"owner": other_user.pk}).content.decode()  # the filter is ignored

    assert "Владелец" not in content and "other@example.com" not in content and "Тема другого" not in content


def test_a_manager_sees_no_edit_or_delete_buttons_on_others_rows(
    manager_client: Client, manager: User, owner: User
) -> None:
    theirs = make_mailing(owner)
    mine = make_mailing(manager)

    content = manager_client.get(reverse("mailings:mailing_list")).content.decode()

    assert reverse("mailings:mailing_update", args=[theirs.pk]) not in content
    assert reverse("mailings:mailing_delete", args=[theirs.pk]) not in content
    assert reverse("mailings:mailing_disable", args=[theirs.pk]) in content
    assert reverse("mailings:mailing_update", args=[mine.pk]) in content


@pytest.mark.parametrize(
    ("name", "attr"),
    [("mailings:recipient_detail", "recipient"), ("mailings:message_detail", "message")],
)
def test_detail_pages_show_a_manager_the_owner_and_no_write_buttons(
    manager_client: Client, owner: User, name: str, attr: str
) -> None:
    recipient = make_recipient(owner)
    objects = {"recipient": recipient, "message": make_message(owner)}
    pk = objects[attr].pk

    content = manager_client.get(reverse(name, args=[pk])).content.decode()

    assert "owner@example.com" in content
    assert reverse(name.replace("detail", "update"), args=[pk]) not in content
    assert reverse(name.replace("detail", "delete"), args=[pk]) not in content


def test_the_mailing_page_shows_each_person_only_their_actions(client: Client, owner: User, manager: User) -> None:
    mailing = make_mailing(owner, recipients=[make_recipient(owner)])
    edit, delete = (
        reverse("mailings:mailing_update", args=[mailing.pk]),
        reverse("mailings:mailing_delete", args=[mailing.pk]),
    )
    send, disable = (
        reverse("mailings:mailing_send", args=[mailing.pk]),
        reverse("mailings:mailing_disable", args=[mailing.pk]),
    )
    url = reverse("mailings:mailing_detail", args=[mailing.pk])

    client.force_login(owner)
    as_owner = client.get(url).content.decode()
    client.force_login(manager)
    as_manager = client.get(url).content.decode()

    assert edit in as_owner and delete in as_owner and send in as_owner and disable not in as_owner
    assert edit not in as_manager and delete not in as_manager and send not in as_manager and disable in as_manager
    assert "owner@example.com" in as_manager


def test_disabling_from_the_page_and_the_owner_sees_who_and_why(
    client: Client, manager_client: Client, owner: User, manager: User
) -> None:
    mailing = make_mailing(owner)
    url = reverse("mailings:mailing_disable", args=[mailing.pk])
    assert manager_client.get(url).status_code == 200

    response = manager_client.post(url, {"reason": "жалобы получателей"})

    assert response.status_code == 302 and response["Location"] == reverse("mailings:mailing_detail", args=[mailing.pk])
    mailing.refresh_from_db()
    assert not mailing.is_enabled and mailing.disabled_by == manager
    owners = Client()
    owners.force_login(owner)
    content = owners.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()
    assert 'id="mailing-disabled"' in content and "жалобы получателей" in content and "менеджером" in content
    assert reverse("mailings:mailing_send", args=[mailing.pk]) not in content


def test_disabling_needs_a_reason(manager_client: Client, owner: User) -> None:
    mailing = make_mailing(owner)
    response = manager_client.post(reverse("mailings:mailing_disable", args=[mailing.pk]), {"reason": "  "})
    assert response.status_code == 200 and response.context["form"].errors
    assert Mailing.objects.get(pk=mailing.pk).is_enabled and not AuditEvent.objects.exists()


def test_enabling_from_the_page(manager_client: Client, owner: User, manager: User) -> None:
    mailing = make_mailing(owner)
    manager_client.post(reverse("mailings:mailing_disable", args=[mailing.pk]), {"reason": "жалобы"})
    assert manager_client.get(reverse("mailings:mailing_enable", args=[mailing.pk])).status_code == 200

    response = manager_client.post(reverse("mailings:mailing_enable", args=[mailing.pk]), {"reason": ""})

    assert response.status_code == 302
    mailing.refresh_from_db()
    assert mailing.is_enabled and mailing.disabled_by is None and mailing.disabled_reason == ""
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MAILING_ENABLED, actor=manager).count() == 1


def test_disabling_a_disabled_mailing_says_so(manager_client: Client, owner: User) -> None:
    mailing = make_mailing(owner, is_enabled=False)
    response = manager_client.post(reverse("mailings:mailing_disable", args=[mailing.pk]), {"reason": "x"}, follow=True)
    assert "Рассылка уже отключена." in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_a_manager_filters_attempts_by_another_owners_mailing_number(
    manager_client: Client, owner: User, other_user: User
) -> None:
    mailings = _two_owners(owner, other_user)
    theirs = mailings["other"]

    response = manager_client.get(reverse("mailings:attempt_list"), {"mailing": theirs.pk})

    page = response.context["page"]
    assert [a.mailing_id for a in page.object_list] == [theirs.pk]
    assert 'type="number"' in response.content.decode()


def test_a_managers_statistics_cover_every_owner_or_one(manager_client: Client, owner: User, other_user: User) -> None:
    _two_owners(owner, other_user)

    everyone = manager_client.get(reverse("mailings:stats")).context
    one = manager_client.get(reverse("mailings:stats"), {"owner": owner.pk}).context

    assert everyone["totals"]["attempts_total"] == 2 and everyone["totals"]["delivered"] == 2
    assert one["totals"]["attempts_total"] == 1 and [m.owner_id for m in one["page"].object_list] == [owner.pk]


def test_a_plain_users_statistics_stay_their_own(client: Client, owner: User, other_user: User) -> None:
    _two_owners(owner, other_user)
    client.force_login(owner)
    totals = client.get(reverse("mailings:stats"), {"owner": other_user.pk}).context["totals"]
    assert totals["attempts_total"] == 1


def _queries(client: Client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


PAGES: list[Callable[[], str]] = [
    lambda: reverse("mailings:recipient_list"),
    lambda: reverse("mailings:message_list"),
    lambda: reverse("mailings:mailing_list"),
    lambda: reverse("mailings:attempt_list"),
    lambda: reverse("mailings:stats"),
    lambda: reverse("users:user_list"),
    lambda: reverse("users:audit_log"),
]


def test_a_managers_list_pages_do_not_query_per_row(manager_client: Client, manager: User, settings: Any) -> None:
    # The queries of computing the pages, not of serving their cached copies (test_cache.py).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

    def fill(start: int, stop: int) -> None:
        for i in range(start, stop):
            user = User.objects.create_user(email=f"u{i}@example.com", password="x")
            recipient = make_recipient(user, f"r{i}@example.com")
            mailing = make_mailing(user, message=make_message(user, f"Тема {i}"), recipients=[recipient])
            make_attempt(mailing, states=[Delivery.State.SENT], status=Attempt.Status.SUCCESS)
            manager_client.post(reverse("mailings:mailing_disable", args=[mailing.pk]), {"reason": f"причина {i}"})

    fill(0, 3)
    small = {url(): _queries(manager_client, url()) for url in PAGES}
    fill(3, 25)
    large = {url(): _queries(manager_client, url()) for url in PAGES}
    assert large == small


def test_the_disable_form_leaves_validation_to_the_page(manager_client: Client, owner: User) -> None:
    mailing = make_mailing(owner)
    url = reverse("mailings:mailing_disable", args=[mailing.pk])
    assert "novalidate" in manager_client.get(url).content.decode()
    assert "Обязательное поле." in manager_client.post(url, {"reason": ""}).content.decode()
