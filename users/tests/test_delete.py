from datetime import timedelta
from typing import Any

from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mailings.models import Mailing, Message, Recipient
from users.models import User
from users.services import user_profile_update
from users.tests.factories import image_upload

URL = reverse("users:delete")


def _data(user: User) -> None:
    recipients = [Recipient.objects.create(owner=user, email=f"r{i}@example.com", full_name=f"R {i}") for i in range(3)]
    message = Message.objects.create(owner=user, subject="Тема", body="Текст")
    Message.objects.create(owner=user, subject="Вторая", body="Текст")
    now = timezone.now()
    mailing = Mailing.objects.create(owner=user, message=message, start_at=now, end_at=now + timedelta(days=1))
    mailing.recipients.set(recipients)


def test_it_requires_login(client: Client, db: None) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("users:login"))


def test_it_says_what_will_be_deleted(client: Client, owner: User, other_user: User) -> None:
    _data(owner)
    _data(other_user)
    client.force_login(owner)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.context["counts"] == {"recipients": 3, "messages": 2, "mailings": 1}
    content = response.content.decode()
    assert owner.email in content
    assert 'name="password"' in content


def test_a_wrong_password_deletes_nothing(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(URL, {"password": "wrong"})
    assert response.status_code == 200
    assert "Неверный пароль." in response.content.decode()
    assert User.objects.filter(pk=owner.pk).exists()


def test_the_right_password_deletes_the_account_and_its_data_and_signs_out(
    client: Client, owner: User, other_user: User, password: str, django_capture_on_commit_callbacks: Any
) -> None:
    _data(owner)
    _data(other_user)
    with django_capture_on_commit_callbacks(execute=True):
        user_profile_update(user=owner, first_name="O", last_name="", phone="", country="", avatar=image_upload())
    avatar = owner.avatar.name
    assert avatar and default_storage.exists(avatar)
    client.force_login(owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"password": password}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Учётная запись и все её данные удалены." in response.content.decode()
    assert not User.objects.filter(pk=owner.pk).exists()
    assert "_auth_user_id" not in client.session
    assert not Recipient.objects.filter(owner_id=owner.pk).exists()
    assert not Message.objects.filter(owner_id=owner.pk).exists()
    assert not Mailing.objects.filter(owner_id=owner.pk).exists()
    assert Mailing.objects.filter(owner=other_user).count() == 1
    assert not default_storage.exists(avatar)


def test_it_is_get_and_post_only(client: Client, owner: User) -> None:
    client.force_login(owner)
    assert client.delete(URL).status_code == 405
    assert User.objects.filter(pk=owner.pk).exists()
