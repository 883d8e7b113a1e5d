from django.test import Client
from django.urls import reverse

from blog.models import Article
from blog.selectors import article_random_public
from blog.tests.conftest import CaptureOnCommit
from users.models import User


def _admin() -> User:
    return User.objects.create_superuser(email="admin@example.com", password="correct-horse-battery-staple")


def test_the_changelist_searches_and_filters(client: Client, article: Article, draft: Article) -> None:
    client.force_login(_admin())
    url = reverse("admin:blog_article_changelist")
    response = client.get(url, {"q": "рассылку"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [article]
    response = client.get(url, {"is_published__exact": "0"})
    assert list(response.context["cl"].result_list) == [draft]


def test_adding_a_published_article_in_the_admin_dates_it(client: Client, db: None) -> None:
    client.force_login(_admin())
    response = client.post(
        reverse("admin:blog_article_add"),
        {"title": "Из админки", "body": "Текст", "is_published": "on", "published_at_0": "", "published_at_1": ""},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    article = Article.objects.get()
    assert article.is_public


def test_deleting_in_the_admin_refreshes_the_home_page_pick(
    client: Client, article: Article, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    assert article_random_public(count=3) == [article]
    client.force_login(_admin())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:blog_article_delete", args=[article.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Article.objects.exists()
    assert article_random_public(count=3) == []


def test_bulk_deleting_in_the_admin_refreshes_the_home_page_pick(
    client: Client, article: Article, draft: Article, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    assert article_random_public(count=3) == [article]
    client.force_login(_admin())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:blog_article_changelist"),
            {"action": "delete_selected", "_selected_action": [article.pk, draft.pk], "post": "yes"},
        )
    assert response.status_code == 302
    assert not Article.objects.exists()
    assert article_random_public(count=3) == []
