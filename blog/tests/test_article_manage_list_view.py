import pytest
from django.test import Client
from django.urls import reverse

from blog.models import Article
from users.models import User

URL = reverse("blog:manage")


def test_it_redirects_anonymous_to_login(client: Client, db: None) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("users:login"))


@pytest.mark.parametrize("who", ["other_user", "manager"])
def test_it_refuses_users_without_the_blog_permission(
    client: Client, request: pytest.FixtureRequest, draft: Article, who: str
) -> None:
    client.force_login(request.getfixturevalue(who))
    response = client.get(URL)
    assert response.status_code == 403
    assert draft.title not in response.content.decode()


def test_it_lists_drafts_first_then_published_articles(
    client: Client, content_manager: User, article: Article, draft: Article
) -> None:
    client.force_login(content_manager)
    response = client.get(URL)
    assert response.status_code == 200
    assert list(response.context["articles"]) == [draft, article]
    body = response.content.decode()
    assert "Черновик" in body and "Опубликована" in body
    assert reverse("blog:create") in body
    assert reverse("blog:update", args=[draft.pk]) in body
    assert reverse("blog:delete", args=[article.pk]) in body


def test_it_is_read_only(client: Client, content_manager: User) -> None:
    client.force_login(content_manager)
    assert client.post(URL).status_code == 405
