import pytest
from django.test import Client
from django.urls import reverse

from mailings.models import Message
from mailings.tests.world import make_mailing, make_message
from users.models import User

pytestmark = pytest.mark.django_db


def test_it_lists_and_searches_own_messages(client: Client, owner: User, other_user: User) -> None:
    make_message(owner, "Скидки недели")
    make_message(owner, "Новый каталог")
    make_message(other_user, "Чужая тема")
    client.force_login(owner)
    html = client.get(reverse("mailings:message_list")).content.decode()
    assert "Скидки недели" in html and "Новый каталог" in html and "Чужая тема" not in html
    html = client.get(reverse("mailings:message_list"), {"q": "каталог"}).content.decode()
    assert "Новый каталог" in html and "Скидки недели" not in html


def test_an_empty_list_tells_what_to_do(client: Client, owner: User) -> None:
    client.force_login(owner)
    assert "Написать первое сообщение" in client.get(reverse("mailings:message_list")).content.decode()


def test_it_requires_login(client: Client, owner: User) -> None:
    message = make_message(owner)
    for name, args in [
        ("message_list", []),
        ("message_create", []),
        ("message_detail", [message.pk]),
        ("message_update", [message.pk]),
        ("message_delete", [message.pk]),
    ]:
        response = client.get(reverse(f"mailings:{name}", args=args))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("users:login"))


def test_it_creates_a_message_owned_by_the_user(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(
        reverse("mailings:message_create"), {"subject": "Привет", "body": "Текст письма"}, follow=True
    )
    message = Message.objects.get()
    assert (message.owner, message.subject, message.body) == (owner, "Привет", "Текст письма")
    assert response.redirect_chain[-1][0] == reverse("mailings:message_detail", args=[message.pk])
    assert "создано" in response.content.decode()


def test_it_requires_subject_and_body(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(reverse("mailings:message_create"), {"subject": "", "body": ""})
    assert response.status_code == 200
    assert "Обязательное поле." in response.content.decode()
    assert not Message.objects.exists()


def test_it_shows_and_edits_a_message(client: Client, owner: User) -> None:
    message = make_message(owner, "Старая тема")
    client.force_login(owner)
    assert "Старая тема" in client.get(reverse("mailings:message_detail", args=[message.pk])).content.decode()
    response = client.post(
        reverse("mailings:message_update", args=[message.pk]), {"subject": "Новая тема", "body": "Новый текст"}
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.subject, message.body) == ("Новая тема", "Новый текст")


def test_it_deletes_an_unused_message_on_post_only(client: Client, owner: User) -> None:
    message = make_message(owner)
    client.force_login(owner)
    assert client.get(reverse("mailings:message_delete", args=[message.pk])).status_code == 200
    assert Message.objects.filter(pk=message.pk).exists()
    response = client.post(reverse("mailings:message_delete", args=[message.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("mailings:message_list")
    assert "удалено" in response.content.decode()
    assert not Message.objects.filter(pk=message.pk).exists()


def test_it_refuses_to_delete_a_message_a_mailing_uses(client: Client, owner: User) -> None:
    message = make_message(owner)
    make_mailing(owner, message=message)
    client.force_login(owner)
    assert "нельзя удалить" in client.get(reverse("mailings:message_delete", args=[message.pk])).content.decode()
    response = client.post(reverse("mailings:message_delete", args=[message.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("mailings:message_detail", args=[message.pk])
    assert "Сообщение нельзя удалить: его отправляет 1 рассылка." in response.content.decode()
    assert Message.objects.filter(pk=message.pk).exists()


def test_it_refuses_other_users_message(client: Client, owner: User, other_user: User) -> None:
    theirs = make_message(other_user, "Чужое")
    client.force_login(owner)
    assert client.get(reverse("mailings:message_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("mailings:message_update", args=[theirs.pk])).status_code == 404
    data = {"subject": "Взлом", "body": "x"}
    assert client.post(reverse("mailings:message_update", args=[theirs.pk]), data).status_code == 404
    assert client.get(reverse("mailings:message_delete", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("mailings:message_delete", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.subject == "Чужое"


def test_delete_accepts_only_get_and_post(client: Client, owner: User) -> None:
    message = make_message(owner)
    client.force_login(owner)
    assert client.delete(reverse("mailings:message_delete", args=[message.pk])).status_code == 405
    assert Message.objects.filter(pk=message.pk).exists()
