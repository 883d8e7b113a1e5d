from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from blog.models import Article
from blog.tests.conftest import MakeArticle
from users.models import User


def _url(article: Article) -> str:
    return reverse("blog:detail", args=[article.pk])


def test_anonymous_reads_a_published_article(client: Client, article: Article) -> None:
    response = client.get(_url(article))
    assert response.status_code == 200
    body = response.content.decode()
    assert article.title in body
    assert "<p>Первый абзац.</p>" in body and "<p>Второй абзац.</p>" in body
    assert reverse("blog:update", args=[article.pk]) not in body


def test_it_escapes_the_body(client: Client, make_article: MakeArticle) -> None:
    article = make_article(body="<script>alert(1)</script>")
    body = client.get(_url(article)).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body


@pytest.mark.parametrize("who", [None, "other_user", "manager"])
def test_a_draft_is_not_found_for_anyone_but_content_managers(
    client: Client, request: pytest.FixtureRequest, draft: Article, who: str | None
) -> None:
    if who:
        client.force_login(request.getfixturevalue(who))
    assert client.get(_url(draft)).status_code == 404


def test_a_future_article_is_not_found_yet(client: Client, make_article: MakeArticle) -> None:
    article = make_article(published_at=timezone.now() + timedelta(hours=1))
    assert client.get(_url(article)).status_code == 404


def test_a_content_manager_previews_a_draft_without_counting_a_view(
    client: Client, content_manager: User, draft: Article
) -> None:
    client.force_login(content_manager)
    response = client.get(_url(draft))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Черновик" in body
    assert reverse("blog:update", args=[draft.pk]) in body
    assert reverse("blog:delete", args=[draft.pk]) in body
    draft.refresh_from_db()
    assert draft.views_count == 0


def test_a_user_with_only_the_view_permission_previews_drafts(client: Client, other_user: User, draft: Article) -> None:
    other_user.user_permissions.add(Permission.objects.get(content_type__app_label="blog", codename="view_article"))
    client.force_login(other_user)
    body = client.get(_url(draft)).content.decode()
    assert reverse("blog:update", args=[draft.pk]) not in body


def test_an_unknown_article_is_not_found(client: Client, db: None) -> None:
    assert client.get(reverse("blog:detail", args=[987654])).status_code == 404


def test_a_visit_counts_once_per_session(client: Client, article: Article) -> None:
    client.get(_url(article))
    client.get(_url(article))
    article.refresh_from_db()
    assert article.views_count == 1
    assert "Просмотров: 1" in client.get(_url(article)).content.decode()

    Client().get(_url(article))  # another visitor
    article.refresh_from_db()
    assert article.views_count == 2


def test_a_new_session_counts_again(client: Client, article: Article, owner: User) -> None:
    client.get(_url(article))
    client.force_login(owner)  # login rotates the session key but keeps its data
    client.get(_url(article))
    client.logout()  # logout flushes the session: a new visit
    client.get(_url(article))
    article.refresh_from_db()
    assert article.views_count == 2


def test_it_only_reads(client: Client, article: Article) -> None:
    assert client.post(_url(article)).status_code == 405
