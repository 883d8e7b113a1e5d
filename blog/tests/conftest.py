"""The blog's additions to the shared world: a content manager, articles, a private media folder."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from blog.models import Article
from blog.selectors import articles_cache_clear


@pytest.fixture(autouse=True)
def _fresh_blog_cache(db: None) -> Iterator[None]:
    # A Redis cache outlives the test's transaction: never reuse another test's home-page pick.
    articles_cache_clear()
    yield
    articles_cache_clear()


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def content_manager(db: None) -> Any:
    from users.models import User
    from users.roles import CONTENT_MANAGERS_GROUP, groups_ensure

    user = User.objects.create_user(
        email="writer@example.com",
        password="correct-horse-battery-staple",
        first_name="writer",
        email_confirmed_at=timezone.now(),
    )
    user.groups.add(groups_ensure()[CONTENT_MANAGERS_GROUP])
    return user


MakeArticle = Callable[..., Article]
CaptureOnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


@pytest.fixture
def make_article(db: None) -> MakeArticle:
    counter = iter(range(1, 10_000))

    def make(*, published: bool = True, **fields: Any) -> Article:
        n = next(counter)
        fields.setdefault("title", f"Статья {n}")
        fields.setdefault("body", f"Текст статьи {n}.")
        fields.setdefault("is_published", published)
        if published:
            fields.setdefault("published_at", timezone.now() - timedelta(minutes=n))
        return Article.objects.create(**fields)

    return make


@pytest.fixture
def article(make_article: MakeArticle) -> Article:
    return make_article(title="Как настроить рассылку", body="Первый абзац.\n\nВторой абзац.")


@pytest.fixture
def draft(make_article: MakeArticle) -> Article:
    return make_article(published=False, title="Черновик о секретах")
