import pytest
from django.test import Client
from django.urls import reverse

from blog.models import Article
from blog.tests.images import image_upload
from users.models import User


def _url(article: Article) -> str:
    return reverse("blog:update", args=[article.pk])


def _data(**extra: object) -> dict[str, object]:
    return {"title": "Новый заголовок", "body": "Новый текст.", **extra}


def _unchanged(article: Article) -> bool:
    stored = Article.objects.get(pk=article.pk)
    return (stored.title, stored.body, stored.is_published, stored.published_at, stored.updated_at) == (
        article.title,
        article.body,
        article.is_published,
        article.published_at,
        article.updated_at,
    )


def test_it_redirects_anonymous_to_login(client: Client, article: Article) -> None:
    response = client.get(_url(article))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("users:login"))
    assert client.post(_url(article), _data()).status_code == 302
    assert _unchanged(article)


@pytest.mark.parametrize("who", ["other_user", "manager"])
def test_it_refuses_users_without_the_blog_permission(
    client: Client, request: pytest.FixtureRequest, article: Article, who: str
) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get(_url(article)).status_code == 403
    assert client.post(_url(article), _data()).status_code == 403
    assert _unchanged(article)


def test_it_shows_the_article_in_the_form(client: Client, content_manager: User, article: Article) -> None:
    client.force_login(content_manager)
    response = client.get(_url(article))
    assert response.status_code == 200
    assert response.context["form"].instance == article
    assert article.title in response.content.decode()


def test_it_saves_the_changes(client: Client, content_manager: User, article: Article) -> None:
    client.force_login(content_manager)
    response = client.post(_url(article), _data(is_published="on", published_at="2024-03-01T09:00"))
    assert response.status_code == 302
    assert response["Location"] == reverse("blog:manage")
    article.refresh_from_db()
    assert (article.title, article.body, article.is_published) == ("Новый заголовок", "Новый текст.", True)
    assert article.published_at is not None and article.published_at.isoformat() == "2024-03-01T06:00:00+00:00"


def test_it_publishes_a_draft_now(client: Client, content_manager: User, draft: Article) -> None:
    client.force_login(content_manager)
    client.post(_url(draft), _data(is_published="on"))
    draft.refresh_from_db()
    assert draft.is_public


def test_it_unpublishes(client: Client, content_manager: User, article: Article) -> None:
    client.force_login(content_manager)
    client.post(_url(article), _data())
    article.refresh_from_db()
    assert not article.is_published
    assert client.get(reverse("blog:detail", args=[article.pk])).status_code == 200  # still visible to its editor
    client.logout()
    assert client.get(reverse("blog:detail", args=[article.pk])).status_code == 404


def test_it_replaces_and_removes_the_image(client: Client, content_manager: User, article: Article) -> None:
    client.force_login(content_manager)
    with_image = _data(is_published="on")
    client.post(_url(article), {**with_image, "preview": image_upload("first.png")})
    article.refresh_from_db()
    first = article.preview.name
    storage = article.preview.storage
    assert first and storage.exists(first)

    client.post(_url(article), with_image)  # no new file: the image stays
    article.refresh_from_db()
    assert article.preview.name == first

    client.post(_url(article), {**with_image, "preview": image_upload("second.png")})
    article.refresh_from_db()
    second = article.preview.name
    assert second and second != first and storage.exists(second)

    client.post(_url(article), {**with_image, "preview-clear": "on"})
    article.refresh_from_db()
    assert not article.preview
    # The removed files are deleted after the commit, which this test's transaction never reaches.
    assert storage.exists(second)


def test_a_rejected_form_changes_nothing(client: Client, content_manager: User, article: Article) -> None:
    client.force_login(content_manager)
    response = client.post(_url(article), {"title": "", "body": "Новый текст."})
    assert response.status_code == 200
    assert "title" in response.context["form"].errors
    assert response.context["article"].title == article.title
    assert _unchanged(article)


def test_an_unknown_article_is_not_found(client: Client, content_manager: User) -> None:
    client.force_login(content_manager)
    assert client.get(reverse("blog:update", args=[987654])).status_code == 404


def test_it_enforces_csrf(content_manager: User, article: Article) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(content_manager)
    assert client.post(_url(article), _data()).status_code == 403
    assert _unchanged(article)
