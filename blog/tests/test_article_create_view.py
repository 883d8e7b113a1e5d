from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from blog.models import Article
from blog.tests.images import image_upload
from users.models import User

URL = reverse("blog:create")


def _data(**extra: object) -> dict[str, object]:
    return {"title": "Новости сервиса", "body": "Мы запустили блог.", "is_published": "on", **extra}


def test_it_redirects_anonymous_to_login(client: Client, db: None) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("users:login"))
    response = client.post(URL, _data())
    assert response.status_code == 302
    assert not Article.objects.exists()


@pytest.mark.parametrize("who", ["other_user", "manager"])
def test_it_refuses_users_without_the_blog_permission(client: Client, request: pytest.FixtureRequest, who: str) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get(URL).status_code == 403
    assert client.post(URL, _data()).status_code == 403
    assert not Article.objects.exists()


def test_it_refuses_a_user_who_may_only_view_articles(client: Client, other_user: User) -> None:
    other_user.user_permissions.add(Permission.objects.get(content_type__app_label="blog", codename="view_article"))
    client.force_login(other_user)
    assert client.post(URL, _data()).status_code == 403
    assert not Article.objects.exists()


def test_it_shows_the_form_to_a_content_manager(client: Client, content_manager: User) -> None:
    client.force_login(content_manager)
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'enctype="multipart/form-data"' in body
    assert 'name="title"' in body and 'name="preview"' in body


def test_it_creates_a_published_article_dated_now(client: Client, content_manager: User) -> None:
    client.force_login(content_manager)
    response = client.post(URL, _data(preview=image_upload()))
    assert response.status_code == 302
    assert response["Location"] == reverse("blog:manage")
    article = Article.objects.get()
    assert article.title == "Новости сервиса"
    assert article.is_published and article.published_at is not None
    name = article.preview.name
    assert name and name.startswith("blog/") and article.preview.storage.exists(name)
    assert article.views_count == 0


def test_it_creates_a_draft(client: Client, content_manager: User) -> None:
    client.force_login(content_manager)
    client.post(URL, {"title": "Черновик", "body": "Позже."})
    article = Article.objects.get()
    assert not article.is_published and article.published_at is None


def test_it_keeps_a_chosen_publication_time(client: Client, content_manager: User) -> None:
    client.force_login(content_manager)
    client.post(URL, _data(published_at="2030-05-01T10:30"))
    article = Article.objects.get()
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2030-05-01T07:30:00+00:00"  # 10:30 in Moscow
    assert not article.is_public


def test_it_rejects_a_file_that_is_not_an_image(client: Client, content_manager: User) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(content_manager)
    fake = SimpleUploadedFile("preview.png", b"<?php echo 'hi'; ?>", content_type="image/png")
    response = client.post(URL, _data(preview=fake))
    assert response.status_code == 200
    assert response.context["form"].errors["preview"]
    assert not Article.objects.exists()


def test_it_rejects_an_image_of_a_wrong_type(client: Client, content_manager: User) -> None:
    client.force_login(content_manager)
    response = client.post(URL, _data(preview=image_upload("preview.bmp", "BMP")))
    assert response.status_code == 200
    assert "JPEG, PNG, GIF или WebP" in str(response.context["form"].errors["preview"])
    assert not Article.objects.exists()


def test_it_rejects_a_too_large_image(client: Client, content_manager: User, settings: Any) -> None:
    settings.BLOG_PREVIEW_MAX_BYTES = 100
    client.force_login(content_manager)
    response = client.post(URL, _data(preview=image_upload(size=(300, 300))))
    assert response.status_code == 200
    assert "слишком большой" in str(response.context["form"].errors["preview"])
    assert not Article.objects.exists()


def test_it_requires_a_title_and_a_body(client: Client, content_manager: User) -> None:
    client.force_login(content_manager)
    response = client.post(URL, {"title": "", "body": ""})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"title", "body"}
    assert not Article.objects.exists()


def test_it_enforces_csrf(content_manager: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(content_manager)
    assert client.post(URL, _data()).status_code == 403
    assert not Article.objects.exists()
