import pytest
from django.test import Client
from django.urls import reverse

from blog.models import Article
from users.models import User


def _url(article: Article) -> str:
    return reverse("blog:delete", args=[article.pk])


def test_it_redirects_anonymous_to_login(client: Client, article: Article) -> None:
    response = client.post(_url(article))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("users:login"))
    assert Article.objects.filter(pk=article.pk).exists()


@pytest.mark.parametrize("who", ["other_user", "manager"])
def test_it_refuses_users_without_the_blog_permission(
    client: Client, request: pytest.FixtureRequest, article: Article, who: str
) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get(_url(article)).status_code == 403
    assert client.post(_url(article)).status_code == 403
    assert Article.objects.filter(pk=article.pk).exists()


def test_get_asks_for_confirmation_and_deletes_nothing(client: Client, content_manager: User, article: Article) -> None:
    client.force_login(content_manager)
    response = client.get(_url(article))
    assert response.status_code == 200
    body = response.content.decode()
    assert article.title in body and 'method="post"' in body
    assert Article.objects.filter(pk=article.pk).exists()


def test_post_deletes(client: Client, content_manager: User, article: Article, draft: Article) -> None:
    client.force_login(content_manager)
    response = client.post(_url(article))
    assert response.status_code == 302
    assert response["Location"] == reverse("blog:manage")
    assert list(Article.objects.all()) == [draft]


def test_an_unknown_article_is_not_found(client: Client, content_manager: User) -> None:
    client.force_login(content_manager)
    assert client.post(reverse("blog:delete", args=[987654])).status_code == 404


def test_it_enforces_csrf(content_manager: User, article: Article) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(content_manager)
    assert client.post(_url(article)).status_code == 403
    assert Article.objects.filter(pk=article.pk).exists()
