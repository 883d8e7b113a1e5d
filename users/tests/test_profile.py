from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from users.models import User
from users.tests.factories import image_upload

URL = reverse("users:profile")
EDIT_URL = reverse("users:profile_edit")


def _form(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"first_name": "Иван", "last_name": "Сидоров", "phone": "+7 912 345-67-89", "country": "RU"}
    data.update(extra)
    return data


@pytest.mark.parametrize("url", [URL, EDIT_URL])
def test_it_requires_login(client: Client, db: None, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("users:login"))


def test_the_profile_shows_the_account(client: Client, owner: User) -> None:
    User.objects.filter(pk=owner.pk).update(last_name="Овнеров", phone="+79123456789", country="RU")
    client.force_login(owner)
    content = client.get(URL).content.decode()
    # Stored as E.164, shown as written in Russia.
    for text in (owner.email, "Овнеров", "8 (912) 345-67-89", "Россия", "Адрес подтверждён"):
        assert text in content
    assert reverse("users:profile_edit") in content
    assert reverse("users:delete") in content


def test_the_edit_page_shows_the_form(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.get(EDIT_URL)
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in response.content.decode()


def test_it_saves_the_profile(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(EDIT_URL, _form())
    assert response.status_code == 302
    assert response["Location"] == URL
    owner.refresh_from_db()
    assert (owner.first_name, owner.last_name, owner.phone, str(owner.country)) == (
        "Иван",
        "Сидоров",
        "+79123456789",
        "RU",
    )


def test_a_bad_phone_is_refused_in_russian(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(EDIT_URL, _form(phone="позвоните мне"))
    assert response.status_code == 200
    assert "Введите номер телефона, например +7 912 345-67-89." in response.content.decode()
    owner.refresh_from_db()
    assert owner.phone == ""


def test_a_number_that_cannot_exist_is_refused(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(EDIT_URL, _form(phone="+7 000 000-00-00"))
    assert "Такого номера телефона не существует." in response.content.decode()


def test_a_rejected_form_does_not_rename_the_user_in_the_menu(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(EDIT_URL, _form(first_name="Подменённое", phone="bad"))
    assert response.context["user"].first_name == "owner"


def test_an_avatar_is_uploaded_and_replaces_the_old_file(
    client: Client, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(EDIT_URL, _form(new_avatar=image_upload(name="first.png"))).status_code == 302
    owner.refresh_from_db()
    first = owner.avatar.name
    assert first and first.startswith("avatars/")
    assert default_storage.exists(first)
    assert first in client.get(URL).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        assert (
            client.post(EDIT_URL, _form(new_avatar=image_upload(name="second.jpg", image_format="JPEG"))).status_code
            == 302
        )
    owner.refresh_from_db()
    second = owner.avatar.name
    assert second and second != first
    assert default_storage.exists(second)
    assert not default_storage.exists(first)


def test_saving_without_a_new_file_keeps_the_avatar(
    client: Client, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(EDIT_URL, _form(new_avatar=image_upload()))
        owner.refresh_from_db()
        kept = owner.avatar.name
        assert kept
        client.post(EDIT_URL, _form(first_name="Пётр"))
    owner.refresh_from_db()
    assert owner.avatar.name == kept
    assert default_storage.exists(kept)


def test_the_avatar_can_be_removed(client: Client, owner: User, django_capture_on_commit_callbacks: Any) -> None:
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(EDIT_URL, _form(new_avatar=image_upload()))
        owner.refresh_from_db()
        old = owner.avatar.name
        assert old
        assert client.post(EDIT_URL, _form(remove_avatar="on")).status_code == 302
    owner.refresh_from_db()
    assert not owner.avatar
    assert not default_storage.exists(old)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("avatar.png", b"not an image at all", content_type="image/png"), "Загрузите"),
        (image_upload(image_format="BMP", name="avatar.bmp"), "Загрузите изображение JPEG, PNG, GIF или WebP."),
    ],
)
def test_a_file_of_the_wrong_type_is_refused(client: Client, owner: User, upload: Any, message: str) -> None:
    client.force_login(owner)
    response = client.post(EDIT_URL, _form(new_avatar=upload))
    assert response.status_code == 200
    assert "new_avatar" in response.context["form"].errors
    assert message in response.content.decode()
    owner.refresh_from_db()
    assert not owner.avatar


def test_an_oversized_avatar_is_refused(client: Client, owner: User, settings: Any) -> None:
    settings.AVATAR_MAX_BYTES = 1024
    client.force_login(owner)
    response = client.post(
        EDIT_URL, _form(new_avatar=image_upload(size=(300, 300), image_format="BMP", name="big.png"))
    )
    assert response.status_code == 200
    assert "Файл слишком большой" in response.content.decode()
    owner.refresh_from_db()
    assert not owner.avatar


def test_editing_is_get_and_post_only(client: Client, owner: User) -> None:
    client.force_login(owner)
    assert client.put(EDIT_URL).status_code == 405


def test_a_lost_avatar_file_does_not_break_editing(client: Client, owner: User) -> None:
    User.objects.filter(pk=owner.pk).update(avatar="avatars/gone.png")
    client.force_login(owner)
    assert client.get(URL).status_code == 200
    assert client.post(EDIT_URL, _form()).status_code == 302


@pytest.mark.parametrize(
    ("typed", "country", "stored", "shown"),
    [
        ("8 (912) 345-67-89", "RU", "+79123456789", "8 (912) 345-67-89"),
        ("+7 912 3456789", "", "+79123456789", "8 (912) 345-67-89"),
        ("030 1234567", "DE", "+49301234567", "030 1234567"),
        ("+49 30 1234567", "RU", "+49301234567", "+49 30 1234567"),
    ],
)
def test_a_phone_is_stored_as_e164_and_shown_in_its_countrys_format(
    client: Client, owner: User, typed: str, country: str, stored: str, shown: str
) -> None:
    client.force_login(owner)
    assert client.post(EDIT_URL, _form(phone=typed, country=country)).status_code == 302
    owner.refresh_from_db()
    assert owner.phone == stored
    assert shown in client.get(URL).content.decode()
    assert f'value="{shown}"' in client.get(EDIT_URL).content.decode()


def test_an_empty_first_name_is_refused(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(EDIT_URL, _form(first_name="  "))
    assert response.status_code == 200
    assert response.context["form"].errors["first_name"]
    owner.refresh_from_db()
    assert owner.first_name == "owner"


def test_remove_avatar_is_offered_only_when_there_is_one(client: Client, owner: User) -> None:
    client.force_login(owner)
    assert "Удалить аватар" not in client.get(EDIT_URL).content.decode()
    User.objects.filter(pk=owner.pk).update(avatar="avatars/a.png")
    assert "Удалить аватар" in client.get(EDIT_URL).content.decode()


def _country_names(client: Client, language: str) -> list[str]:
    form = client.get(EDIT_URL, HTTP_ACCEPT_LANGUAGE=language).context["form"]
    return [str(name) for code, name in form.fields["country"].choices if code]


def test_the_country_list_is_in_the_readers_alphabetical_order(client: Client, owner: User) -> None:
    client.force_login(owner)
    russian = _country_names(client, "ru")
    assert russian[:3] == ["Австралия", "Австрия", "Азербайджан"]
    assert russian.index("Йемен") > russian.index("Италия")
    assert russian.index("Ямайка") == len(russian) - 2 or russian[-1].startswith("Я")
    english = _country_names(client, "en")
    assert english[:2] == ["Afghanistan", "Åland Islands"]
    assert "Россия" in russian and "Russia" in english


def test_phones_saved_as_typed_before_become_e164(owner: User, other_user: User) -> None:
    import importlib

    from django.apps import apps

    User.objects.filter(pk=owner.pk).update(phone="8 912 345-67-89", country="RU")
    User.objects.filter(pk=other_user.pk).update(phone="позвоните мне")
    importlib.import_module("users.migrations.0003_phones_e164").forwards(apps, None)
    assert User.objects.get(pk=owner.pk).phone == "+79123456789"
    assert User.objects.get(pk=other_user.pk).phone == "позвоните мне"


def test_the_edit_form_keeps_the_chosen_country_selected(client: Client, owner: User) -> None:
    User.objects.filter(pk=owner.pk).update(country="DE")
    client.force_login(owner)
    assert '<option value="DE" selected>' in client.get(EDIT_URL).content.decode()
