from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from blog.models import Article
from blog.tests.conftest import MakeArticle
from users.models import User

URL = reverse("blog:list")


def test_anyone_reads_the_published_articles(client: Client, article: Article, draft: Article) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert article.title in body
    assert reverse("blog:detail", args=[article.pk]) in body
    assert draft.title not in body
    assert reverse("blog:manage") not in body


def test_it_hides_drafts_and_future_articles_even_from_content_managers(
    client: Client, content_manager: User, article: Article, draft: Article, make_article: MakeArticle
) -> None:
    later = make_article(title="Завтрашняя новость", published_at=timezone.now() + timedelta(days=1))
    client.force_login(content_manager)
    response = client.get(URL)
    assert list(response.context["articles"]) == [article]
    body = response.content.decode()
    assert draft.title not in body and later.title not in body
    assert reverse("blog:manage") in body


def test_it_lists_the_newest_first_and_pages(client: Client, make_article: MakeArticle) -> None:
    articles = [make_article() for _ in range(12)]  # each one a minute older than the one before
    response = client.get(URL)
    assert list(response.context["articles"]) == articles[:10]
    response = client.get(URL, {"page": 2})
    assert list(response.context["articles"]) == articles[10:]
    assert client.get(URL, {"page": "nonsense"}).status_code == 200


def test_it_says_when_there_is_nothing_yet(client: Client, db: None) -> None:
    assert "Статей пока нет" in client.get(URL).content.decode()
