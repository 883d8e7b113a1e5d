from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from blog import services
from blog.models import Article
from blog.selectors import article_random_public
from blog.tests.conftest import CaptureOnCommit, MakeArticle
from blog.tests.images import image_upload


def test_create_publishes_now_when_no_date_is_given(db: None) -> None:
    before = timezone.now()
    article = services.article_create(title="Заголовок", body="Текст", is_published=True)
    assert article.published_at is not None and before <= article.published_at <= timezone.now()
    assert article.is_public


def test_create_keeps_a_draft_undated(db: None) -> None:
    article = services.article_create(title="Заголовок", body="Текст")
    assert not article.is_published and article.published_at is None
    assert not article.is_public


def test_create_validates(db: None) -> None:
    with pytest.raises(ValidationError) as error:
        services.article_create(title="x" * 201, body="")
    assert set(error.value.message_dict) == {"title", "body"}
    assert not Article.objects.exists()


def test_the_database_refuses_a_published_article_without_a_date(db: None) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Article.objects.create(title="Заголовок", body="Текст", is_published=True, published_at=None)


def test_a_replaced_image_is_deleted_after_the_commit(
    make_article: MakeArticle, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    article = make_article(preview=image_upload("old.png"))
    old = article.preview.name
    storage = article.preview.storage
    assert old and storage.exists(old)
    with django_capture_on_commit_callbacks(execute=True):
        services.article_update(
            article=article,
            title=article.title,
            body=article.body,
            is_published=True,
            published_at=article.published_at,
            preview=image_upload("new.png"),
        )
    assert not storage.exists(old)
    new = article.preview.name
    assert new and storage.exists(new)

    with django_capture_on_commit_callbacks(execute=True):
        services.article_update(
            article=article, title="t", body="b", is_published=False, published_at=None, preview=False
        )
    assert not storage.exists(new)
    assert Article.objects.get(pk=article.pk).preview.name == ""


def test_delete_removes_the_row_and_the_image(
    make_article: MakeArticle, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    article = make_article(preview=image_upload())
    name = article.preview.name
    assert name
    storage = article.preview.storage
    with django_capture_on_commit_callbacks(execute=True):
        services.article_delete(article=article)
    assert not Article.objects.exists()
    assert not storage.exists(name)


def test_every_write_refreshes_the_home_page_pick(
    make_article: MakeArticle, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    assert article_random_public(count=3) == []
    # Written behind the services' back: the cached (empty) pick stays for its minute.
    sneaky = make_article()
    assert article_random_public(count=3) == []

    with django_capture_on_commit_callbacks(execute=True):
        created = services.article_create(title="Новая", body="Текст", is_published=True)
    assert set(article_random_public(count=3)) == {sneaky, created}

    with django_capture_on_commit_callbacks(execute=True):
        services.article_update(article=created, title="Черновик", body="Текст", is_published=False, published_at=None)
    assert article_random_public(count=3) == [sneaky]

    with django_capture_on_commit_callbacks(execute=True):
        services.article_delete(article=sneaky)
    assert article_random_public(count=3) == []


def test_a_rolled_back_write_leaves_the_cache_alone(
    make_article: MakeArticle, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    article = make_article()
    assert article_random_public(count=3) == [article]
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.article_delete(article=Article.objects.get(pk=article.pk))
        raise RuntimeError("rolled back")
    assert callbacks == []
    assert article_random_public(count=3) == [article]


def test_the_pick_leaves_out_drafts_and_future_articles(make_article: MakeArticle) -> None:
    published = [make_article() for _ in range(2)]
    make_article(published=False)
    make_article(published_at=timezone.now() + timedelta(days=1))
    assert sorted(a.pk for a in article_random_public(count=3)) == sorted(a.pk for a in published)
    assert article_random_public(count=0) == []
