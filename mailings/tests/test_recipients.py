import pytest
from django.test import Client
from django.urls import reverse

from mailings.models import Mailing, Recipient
from mailings.tests.world import make_mailing, make_recipient
from users.models import User

pytestmark = pytest.mark.django_db


def _form(**overrides: str) -> dict[str, object]:
    data: dict[str, object] = {
        "email": "anna@example.com",
        "full_name": "Анна Смирнова",
        "comment": "постоянный клиент",
        "consent-source": "shop",
        "consent-kinds": ["advertising", "personal_data"],
    }
    data.update(overrides)
    return data


def test_it_lists_only_the_owners_recipients(client: Client, owner: User, other_user: User) -> None:
    make_recipient(owner, "mine@example.com")
    make_recipient(other_user, "theirs@example.com")
    client.force_login(owner)
    response = client.get(reverse("mailings:recipient_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "mine@example.com" in html
    assert "theirs@example.com" not in html


def test_it_searches_by_q(client: Client, owner: User) -> None:
    make_recipient(owner, "anna@example.com", full_name="Анна")
    make_recipient(owner, "boris@example.com", full_name="Борис")
    client.force_login(owner)
    html = client.get(reverse("mailings:recipient_list"), {"q": "boris"}).content.decode()
    assert "boris@example.com" in html
    assert "anna@example.com" not in html


def test_it_paginates_the_list(client: Client, owner: User) -> None:
    for i in range(25):
        make_recipient(owner, f"r{i:02d}@example.com")
    client.force_login(owner)
    first = client.get(reverse("mailings:recipient_list")).content.decode()
    second = client.get(reverse("mailings:recipient_list"), {"page": 2}).content.decode()
    assert "r00@example.com" in first and "r24@example.com" not in first
    assert "r24@example.com" in second


def test_an_empty_list_tells_what_to_do(client: Client, owner: User) -> None:
    client.force_login(owner)
    assert "Добавьте первого получателя" in client.get(reverse("mailings:recipient_list")).content.decode()


def test_it_requires_login(client: Client, owner: User) -> None:
    recipient = make_recipient(owner)
    for url in [
        reverse("mailings:recipient_list"),
        reverse("mailings:recipient_create"),
        reverse("mailings:recipient_detail", args=[recipient.pk]),
        reverse("mailings:recipient_update", args=[recipient.pk]),
        reverse("mailings:recipient_delete", args=[recipient.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("users:login"))


def test_it_creates_a_recipient_owned_by_the_user(client: Client, owner: User, other_user: User) -> None:
    client.force_login(owner)
    response = client.post(reverse("mailings:recipient_create"), _form(owner=str(other_user.pk)), follow=True)
    recipient = Recipient.objects.get()
    assert recipient.owner == owner
    assert (recipient.email, recipient.full_name, recipient.comment) == (
        "anna@example.com",
        "Анна Смирнова",
        "постоянный клиент",
    )
    assert response.redirect_chain[-1][0] == reverse("mailings:recipient_detail", args=[recipient.pk])
    assert "добавлен" in response.content.decode()


def test_it_rejects_a_duplicate_email_case_insensitively(client: Client, owner: User) -> None:
    make_recipient(owner, "anna@example.com")
    client.force_login(owner)
    response = client.post(reverse("mailings:recipient_create"), _form(email="ANNA@Example.com"))
    assert response.status_code == 200
    assert "У вас уже есть получатель с таким email." in response.content.decode()
    assert Recipient.objects.count() == 1


def test_the_same_email_is_allowed_for_another_user(client: Client, owner: User, other_user: User) -> None:
    make_recipient(other_user, "anna@example.com")
    client.force_login(owner)
    client.post(reverse("mailings:recipient_create"), _form())
    assert Recipient.objects.filter(owner=owner, email="anna@example.com").exists()


def test_it_rejects_a_malformed_email(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(reverse("mailings:recipient_create"), _form(email="anna@"))
    assert response.status_code == 200
    assert "Введите правильный адрес электронной почты" in response.content.decode()
    assert not Recipient.objects.exists()


def test_it_shows_the_detail(client: Client, owner: User) -> None:
    recipient = make_recipient(owner, comment="VIP")
    mailing = make_mailing(owner, recipients=[recipient])
    client.force_login(owner)
    html = client.get(reverse("mailings:recipient_detail", args=[recipient.pk])).content.decode()
    assert recipient.email in html and "VIP" in html
    assert reverse("mailings:mailing_detail", args=[mailing.pk]) in html


def test_it_edits_a_recipient(client: Client, owner: User) -> None:
    recipient = make_recipient(owner, "anna@example.com")
    client.force_login(owner)
    response = client.post(
        reverse("mailings:recipient_update", args=[recipient.pk]), _form(email="ANNA@example.com", full_name="Анна С.")
    )
    assert response.status_code == 302
    recipient.refresh_from_db()
    assert (recipient.email, recipient.full_name) == ("ANNA@example.com", "Анна С.")


def test_editing_into_another_recipients_email_is_refused(client: Client, owner: User) -> None:
    make_recipient(owner, "anna@example.com")
    boris = make_recipient(owner, "boris@example.com")
    client.force_login(owner)
    response = client.post(reverse("mailings:recipient_update", args=[boris.pk]), _form(email="Anna@example.com"))
    assert "У вас уже есть получатель с таким email." in response.content.decode()
    boris.refresh_from_db()
    assert boris.email == "boris@example.com"


def test_delete_asks_for_confirmation_on_get(client: Client, owner: User) -> None:
    recipient = make_recipient(owner)
    client.force_login(owner)
    response = client.get(reverse("mailings:recipient_delete", args=[recipient.pk]))
    assert response.status_code == 200
    assert "Да, удалить" in response.content.decode()
    assert Recipient.objects.filter(pk=recipient.pk).exists()


def test_it_deletes_on_post_and_drops_it_from_mailings(client: Client, owner: User) -> None:
    recipient = make_recipient(owner)
    mailing = make_mailing(owner, recipients=[recipient])
    client.force_login(owner)
    response = client.post(reverse("mailings:recipient_delete", args=[recipient.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("mailings:recipient_list")
    assert "удалён" in response.content.decode()
    assert not Recipient.objects.filter(pk=recipient.pk).exists()
    assert Mailing.objects.filter(pk=mailing.pk).exists()
    assert mailing.recipients.count() == 0


def test_it_refuses_other_users_recipient(client: Client, owner: User, other_user: User) -> None:
    theirs = make_recipient(other_user, "theirs@example.com")
    client.force_login(owner)
    assert client.get(reverse("mailings:recipient_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("mailings:recipient_update", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("mailings:recipient_update", args=[theirs.pk]), _form()).status_code == 404
    assert client.get(reverse("mailings:recipient_delete", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("mailings:recipient_delete", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.email == "theirs@example.com"


def test_delete_accepts_only_get_and_post(client: Client, owner: User) -> None:
    recipient = make_recipient(owner)
    client.force_login(owner)
    assert client.put(reverse("mailings:recipient_delete", args=[recipient.pk])).status_code == 405
    assert client.delete(reverse("mailings:recipient_delete", args=[recipient.pk])).status_code == 405
    assert Recipient.objects.filter(pk=recipient.pk).exists()


def test_search_ignores_the_case_of_cyrillic_letters(client: Client, owner: User) -> None:
    make_recipient(owner, "anna@example.com", full_name="Анна Смирнова")
    make_recipient(owner, "boris@example.com", full_name="Борис Иванов")
    client.force_login(owner)
    html = client.get(reverse("mailings:recipient_list"), {"q": "анна"}).content.decode()
    assert "anna@example.com" in html and "boris@example.com" not in html


@pytest.mark.parametrize("address", ["petr@почта.рф", "пётр@почта.рф", "Иван.Петров@пример.испытание"])
def test_it_accepts_international_addresses(client: Client, owner: User, address: str) -> None:
    client.force_login(owner)
    response = client.post(reverse("mailings:recipient_create"), _form(email=address))
    assert response.status_code == 302
    assert Recipient.objects.get(owner=owner).email == address


@pytest.mark.parametrize("address", ["пётр@", "a b@example.com", "x@@example.com", "x@-bad-.ru"])
def test_it_refuses_a_broken_address_with_an_example(client: Client, owner: User, address: str) -> None:
    client.force_login(owner)
    response = client.post(reverse("mailings:recipient_create"), _form(email=address))
    assert response.status_code == 200
    assert "Введите правильный адрес электронной почты, например ivan@example.com." in response.content.decode()
    assert not Recipient.objects.exists()
