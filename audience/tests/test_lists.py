"""Lists pages: create, rename, delete, members, bulk add and remove by the recipient list's search."""

import pytest
from django.test import Client
from django.urls import reverse

from audience.models import List
from mailings.tests.world import make_recipient
from users.models import User

pytestmark = pytest.mark.django_db


def _list(owner: User, name: str = "Постоянные клиенты", members: tuple = ()) -> List:
    item = List.objects.create(owner=owner, name=name)
    item.members.add(*members)
    return item


def test_it_creates_a_list_and_refuses_a_duplicate_name_in_any_case(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(reverse("audience:list_create"), {"name": "  Клиенты  "})
    item = List.objects.get(owner=owner)
    assert response.status_code == 302 and item.name == "Клиенты"

    response = client.post(reverse("audience:list_create"), {"name": "Clients"})
    response = client.post(reverse("audience:list_create"), {"name": "CLIENTS"})

    assert response.status_code == 200
    assert "У вас уже есть список с таким названием." in response.content.decode()
    assert List.objects.filter(owner=owner).count() == 2


def test_two_owners_may_have_lists_of_the_same_name(client: Client, owner: User, other_user: User) -> None:
    _list(other_user, "Клиенты")
    client.force_login(owner)
    assert client.post(reverse("audience:list_create"), {"name": "Клиенты"}).status_code == 302


def test_the_index_shows_only_own_lists_with_member_counts(client: Client, owner: User, other_user: User) -> None:
    _list(owner, "Мои", members=(make_recipient(owner, "a@example.com"), make_recipient(owner, "b@example.com")))
    _list(other_user, "Чужие")
    client.force_login(owner)
    html = client.get(reverse("audience:list_index")).content.decode()
    assert "Мои" in html and "Чужие" not in html
    assert '<td data-label="Получателей">2</td>' in html


def test_it_renames_and_deletes_keeping_the_recipients(client: Client, owner: User) -> None:
    recipient = make_recipient(owner)
    item = _list(owner, members=(recipient,))
    client.force_login(owner)
    client.post(reverse("audience:list_update", args=[item.pk]), {"name": "VIP"})
    item.refresh_from_db()
    assert item.name == "VIP"

    client.post(reverse("audience:list_delete", args=[item.pk]))

    assert not List.objects.exists()
    recipient.refresh_from_db()


def test_another_users_list_is_404_and_a_manager_reads_only(
    client: Client, owner: User, other_user: User, manager: User
) -> None:
    item = _list(owner, members=(make_recipient(owner, "member@example.com"),))
    client.force_login(other_user)
    assert client.get(reverse("audience:list_detail", args=[item.pk])).status_code == 404
    assert client.post(reverse("audience:list_delete", args=[item.pk])).status_code == 404
    client.force_login(manager)
    assert "member@example.com" in client.get(reverse("audience:list_detail", args=[item.pk])).content.decode()
    assert client.post(reverse("audience:list_update", args=[item.pk]), {"name": "x"}).status_code == 403
    assert List.objects.get().name == "Постоянные клиенты"


def test_it_removes_one_member(client: Client, owner: User) -> None:
    a, b = make_recipient(owner, "a@example.com"), make_recipient(owner, "b@example.com")
    item = _list(owner, members=(a, b))
    client.force_login(owner)
    client.post(reverse("audience:list_member_remove", args=[item.pk]), {"recipient": a.pk})
    assert list(item.members.all()) == [b]


def test_bulk_adds_every_recipient_the_search_finds_on_all_pages(client: Client, owner: User, other_user: User) -> None:
    for i in range(45):
        make_recipient(owner, f"shop{i}@example.com")
    make_recipient(owner, "friend@example.org")
    make_recipient(other_user, "shop-theirs@example.com")
    item = _list(owner, members=(owner.recipients.get(email="shop0@example.com"),))
    client.force_login(owner)
    page = client.get(reverse("mailings:recipient_list"), {"q": "shop"}).content.decode()
    assert "Найдено 45 получателей" in page and 'name="target"' in page

    response = client.post(
        reverse("audience:bulk_membership"), {"q": "shop", "target": item.pk, "action": "add"}, follow=True
    )

    assert "добавлено: 44" in response.content.decode()
    assert item.members.count() == 45
    assert not item.members.filter(email="friend@example.org").exists()


def test_bulk_removes_the_found_members(client: Client, owner: User) -> None:
    keep, drop = make_recipient(owner, "keep@example.com"), make_recipient(owner, "drop@example.org")
    item = _list(owner, members=(keep, drop))
    client.force_login(owner)
    client.post(reverse("audience:bulk_membership"), {"q": "example.org", "target": item.pk, "action": "remove"})
    assert list(item.members.all()) == [keep]


def test_bulk_refuses_another_users_list(client: Client, owner: User, other_user: User) -> None:
    make_recipient(other_user, "mine@example.com")
    item = _list(owner)
    client.force_login(other_user)
    response = client.post(reverse("audience:bulk_membership"), {"q": "", "target": item.pk, "action": "add"})
    assert response.status_code == 404
    assert item.members.count() == 0


def test_the_list_page_searches_its_members(client: Client, owner: User) -> None:
    item = _list(owner, members=(make_recipient(owner, "anna@example.com"), make_recipient(owner, "boris@example.com")))
    client.force_login(owner)
    html = client.get(reverse("audience:list_detail", args=[item.pk]), {"q": "boris"}).content.decode()
    assert "boris@example.com" in html and "anna@example.com" not in html


def test_the_mailing_list_page_says_how_many_lists_a_mailing_has(client: Client, owner: User) -> None:
    from mailings.tests.world import make_mailing

    mailing = make_mailing(owner, recipients=[make_recipient(owner)])
    mailing.lists.add(_list(owner, "Первый"), _list(owner, "Второй"))
    make_mailing(owner, all_recipients=True)
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_list")).content.decode()
    assert '1 <span class="text-muted small">+ 2 списка</span>' in html
    assert ">все</td>" in html


def test_the_admin_lists_lists_and_imports(client: Client, owner: User) -> None:
    from django.utils import timezone

    root = User.objects.create_superuser(email="root@example.com", password="x", email_confirmed_at=timezone.now())
    _list(owner, "В админке")
    client.force_login(root)
    assert "В админке" in client.get(reverse("admin:audience_list_changelist")).content.decode()
    assert client.get(reverse("admin:audience_import_changelist")).status_code == 200
