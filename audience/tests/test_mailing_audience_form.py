"""The mailing form's audience: lists, the picker (JSON), chips, the chosen recipients by pages, the live count."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audience.models import List
from mailings.models import Mailing, Recipient
from mailings.tests.world import make_mailing, make_message, make_recipient
from users.models import User

pytestmark = pytest.mark.django_db


def _local(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def _form(owner: User, **audience: Any) -> dict[str, Any]:
    start = timezone.now() + timedelta(days=1)
    message = owner.messages.first() or make_message(owner)
    return {
        "message": message.pk,
        "start_at": _local(start),
        "end_at": _local(start + timedelta(days=2)),
        "periodicity": "once",
        **audience,
    }


def _recipients(owner: User, n: int, prefix: str = "r") -> list[Recipient]:
    Recipient.objects.bulk_create(
        Recipient(owner=owner, email=f"{prefix}{i:03d}@example.com", full_name=f"Получатель {i}") for i in range(n)
    )
    return list(Recipient.objects.filter(owner=owner, email__startswith=prefix).order_by("email"))


def test_it_creates_a_mailing_to_two_lists_and_a_picked_recipient(client: Client, owner: User) -> None:
    people = _recipients(owner, 3)
    first, second = List.objects.create(owner=owner, name="Первый"), List.objects.create(owner=owner, name="Второй")
    first.members.add(people[0])
    second.members.add(people[0], people[1])
    client.force_login(owner)

    response = client.post(
        reverse("mailings:mailing_create"), _form(owner, lists=[first.pk, second.pk], recipients=[people[2].pk])
    )

    assert response.status_code == 302
    mailing = Mailing.objects.get()
    assert set(mailing.lists.all()) == {first, second}
    assert list(mailing.audience().order_by("email")) == people


def test_it_asks_who_to_send_to(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(reverse("mailings:mailing_create"), _form(owner))
    assert response.status_code == 200
    assert "Выберите, кому отправить" in response.content.decode()
    assert not Mailing.objects.exists()


def test_all_my_recipients_works_without_javascript(client: Client, owner: User) -> None:
    _recipients(owner, 2)
    client.force_login(owner)
    client.post(reverse("mailings:mailing_create"), _form(owner, all_recipients="on"))
    assert Mailing.objects.get().audience().count() == 2


def test_another_users_list_is_not_a_choice(client: Client, owner: User, other_user: User) -> None:
    theirs = List.objects.create(owner=other_user, name="Чужой список")
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_create")).content.decode()
    assert "Чужой список" not in html
    response = client.post(reverse("mailings:mailing_create"), _form(owner, lists=[theirs.pk]))
    assert response.status_code == 200 and not Mailing.objects.exists()


def test_a_failed_submit_keeps_the_picked_chips(client: Client, owner: User) -> None:
    picked = make_recipient(owner, "picked@example.com")
    client.force_login(owner)
    data = {**_form(owner, recipients=[picked.pk]), "end_at": ""}
    html = client.post(reverse("mailings:mailing_create"), data).content.decode()
    assert f'data-chip="{picked.pk}"' in html and f'name="recipients" value="{picked.pk}"' in html


def test_the_edit_form_of_a_large_selection_shows_a_page_and_the_count_not_every_recipient(
    client: Client, owner: User
) -> None:
    people = _recipients(owner, 60)
    mailing = make_mailing(owner, recipients=people)
    client.force_login(owner)

    html = client.get(reverse("mailings:mailing_update", args=[mailing.pk])).content.decode()

    assert html.count('name="recipients_remove"') == 20
    assert "Выбрано по одному 60 получателей" in html
    assert '<strong id="audience-count">60</strong>' in html
    assert "r059@example.com" not in html


def test_the_edit_form_removes_by_id_adds_picks_and_keeps_the_rest(client: Client, owner: User) -> None:
    people = _recipients(owner, 30)
    extra = make_recipient(owner, "extra@example.com")
    mailing = make_mailing(owner, recipients=people)
    client.force_login(owner)

    # The 25th is not on the first page: the "show more" control fetched it (audience:picker with ?mailing=).
    data = _form(owner, recipients_remove=[people[0].pk, people[25].pk], recipients=[extra.pk])
    response = client.post(reverse("mailings:mailing_update", args=[mailing.pk]), data)

    assert response.status_code == 302
    chosen = set(mailing.recipients.values_list("email", flat=True))
    assert len(chosen) == 29 and "extra@example.com" in chosen
    assert people[0].email not in chosen and people[25].email not in chosen


def test_the_edit_form_clears_every_individually_chosen_recipient(client: Client, owner: User) -> None:
    people = _recipients(owner, 3)
    clients = List.objects.create(owner=owner, name="Клиенты")
    mailing = make_mailing(owner, recipients=people)
    client.force_login(owner)
    client.post(
        reverse("mailings:mailing_update", args=[mailing.pk]), _form(owner, clear_chosen="on", lists=[clients.pk])
    )
    assert not mailing.recipients.exists()
    assert list(mailing.lists.all()) == [clients]


def test_the_picker_searches_the_owners_recipients_by_pages(client: Client, owner: User, other_user: User) -> None:
    _recipients(owner, 25, prefix="shop")
    make_recipient(owner, "anna@example.org", full_name="Анна")
    make_recipient(other_user, "shop-theirs@example.com")
    client.force_login(owner)

    first = client.get(reverse("audience:picker"), {"q": "shop"}).json()
    second = client.get(reverse("audience:picker"), {"q": "shop", "page": "2"}).json()
    by_name = client.get(reverse("audience:picker"), {"q": "анна"}).json()

    assert len(first["results"]) == 20 and first["more"] is True
    assert len(second["results"]) == 5 and second["more"] is False
    assert all("theirs" not in item["email"] for item in first["results"] + second["results"])
    assert by_name["results"] == [{"id": by_name["results"][0]["id"], "email": "anna@example.org", "full_name": "Анна"}]


def test_the_picker_pages_a_mailings_chosen_recipients_only_for_its_owner(
    client: Client, owner: User, other_user: User
) -> None:
    people = _recipients(owner, 25)
    make_recipient(owner, "not-chosen@example.com")
    mailing = make_mailing(owner, recipients=people)
    client.force_login(owner)
    page = client.get(reverse("audience:picker"), {"mailing": str(mailing.pk), "page": "2"}).json()
    assert [item["email"] for item in page["results"]] == [p.email for p in people[20:]]
    client.force_login(other_user)
    assert client.get(reverse("audience:picker"), {"mailing": mailing.pk}).status_code == 404


def test_the_count_is_the_number_of_unique_addresses(client: Client, owner: User, other_user: User) -> None:
    people = _recipients(owner, 5)
    first, second = List.objects.create(owner=owner, name="1"), List.objects.create(owner=owner, name="2")
    first.members.add(*people[:3])
    second.members.add(*people[2:4])
    theirs = List.objects.create(owner=other_user, name="3")
    theirs.members.add(*_recipients(other_user, 4, prefix="t"))
    mailing = make_mailing(owner, recipients=[people[4], people[0]])
    client.force_login(owner)
    url = reverse("audience:audience_count")

    assert client.get(url, {"lists": [first.pk, second.pk]}).json() == {"count": 4}
    assert client.get(url, {"lists": [first.pk, theirs.pk], "recipients": [people[4].pk]}).json() == {"count": 4}
    assert client.get(url, {"mailing": mailing.pk, "recipients_remove": people[4].pk}).json() == {"count": 1}
    assert client.get(url, {"mailing": str(mailing.pk), "clear_chosen": "on"}).json() == {"count": 0}
    assert client.get(url, {"all_recipients": "on"}).json() == {"count": 5}


def test_the_form_page_is_cached_and_a_new_list_shows_at_once(
    client: Client, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    from audience.services import list_create

    make_message(owner)
    client.force_login(owner)
    client.get(reverse("mailings:mailing_create"))  # the CSRF cookie: cacheable from the next request on
    first = client.get(reverse("mailings:mailing_create"))
    assert first.has_header("ETag")
    assert client.get(reverse("mailings:mailing_create"), headers={"if-none-match": first["ETag"]}).status_code == 304

    with django_capture_on_commit_callbacks(execute=True):  # the data version is bumped once it commits
        list_create(owner=owner, name="Только что созданный")

    again = client.get(reverse("mailings:mailing_create"), headers={"if-none-match": first["ETag"]})
    assert again.status_code == 200 and "Только что созданный" in again.content.decode()
