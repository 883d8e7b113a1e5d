"""Reads of articles: who sees which, and the home page's cached random pick."""

import logging
import random
import uuid

from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache

from blog.models import Article, ArticleQuerySet
from users.models import User

logger = logging.getLogger(__name__)

RANDOM_ARTICLES_TIMEOUT = 60
RANDOM_ARTICLES_MAX = 12
_CACHE_VERSION_KEY = "blog:articles:version"


def article_visible_qs(*, user: User | AnonymousUser) -> ArticleQuerySet:
    """The one place that decides which articles a user may open: drafts only for content managers."""
    if user.has_perm("blog.view_article"):
        return Article.objects.all()
    return Article.objects.public()


def article_public_qs() -> ArticleQuerySet:
    return Article.objects.public()


def article_manage_qs() -> ArticleQuerySet:
    """Every article for the management pages; the views check the permissions."""
    return Article.objects.all()


def _cache_version() -> str:
    version = cache.get(_CACHE_VERSION_KEY)
    if version is None:
        # add(), not set(): a version another process has just written wins, so both use one key.
        cache.add(_CACHE_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(_CACHE_VERSION_KEY) or "uncached"
    return str(version)


def articles_cache_clear() -> None:
    """Forget the cached home-page pick. A new version rather than delete(): a reader that computed its
    pick before the change and stores it afterwards writes under the old version, where nobody looks."""
    cache.set(_CACHE_VERSION_KEY, uuid.uuid4().hex, timeout=None)


def article_random_public(*, count: int) -> list[Article]:
    """Up to `count` random published articles, the same pick for everyone for RANDOM_ARTICLES_TIMEOUT s."""
    count = max(0, min(count, RANDOM_ARTICLES_MAX))
    if count == 0:
        return []
    key = f"blog:random_articles:{_cache_version()}:{count}"
    articles: list[Article] | None = cache.get(key)
    if articles is None:
        # Sampling ids in Python instead of ORDER BY RANDOM(), which sorts the whole table.
        ids = list(Article.objects.public().values_list("pk", flat=True))
        chosen = random.sample(ids, min(count, len(ids)))
        articles = list(Article.objects.filter(pk__in=chosen).order_by("-published_at", "-pk"))
        cache.set(key, articles, RANDOM_ARTICLES_TIMEOUT)
    return articles
