"""Writes of articles. Every save or delete goes through here so the home page's cache is refreshed."""

import logging
from datetime import datetime

from django.contrib.sessions.backends.base import SessionBase
from django.core.files import File
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import F

from blog.models import Article
from blog.selectors import articles_cache_clear

logger = logging.getLogger(__name__)

SEEN_SESSION_KEY = "blog_seen_articles"
# Bounds the session's size for a visitor who reads a great many articles; the oldest ids go first.
SEEN_SESSION_MAX = 500


def _delete_file_on_commit(storage: Storage, name: str) -> None:
    if not name:
        return

    def delete() -> None:
        try:
            storage.delete(name)
        except OSError:
            logger.warning("could not delete the blog image %s", name, exc_info=True)

    transaction.on_commit(delete)


def article_save(*, article: Article) -> Article:
    """Validate and save an article built or changed elsewhere (the services below, the admin).

    Validation (Article.clean) gives a published article without a publication date the current time.
    """
    article.full_clean()
    article.save()
    transaction.on_commit(articles_cache_clear)
    return article


@transaction.atomic
def article_create(
    *,
    title: str,
    body: str,
    preview: File | None = None,
    is_published: bool = False,
    published_at: datetime | None = None,
) -> Article:
    article = Article(title=title, body=body, is_published=is_published, published_at=published_at)
    if preview:
        article.preview = preview
    article_save(article=article)
    logger.info("article %s created (published: %s)", article.pk, article.is_published)
    return article


@transaction.atomic
def article_update(
    *,
    article: Article,
    title: str,
    body: str,
    is_published: bool,
    published_at: datetime | None,
    preview: File | bool | None = None,
) -> Article:
    """Change an article. `preview` follows forms.ClearableFileInput: None keeps the image,
    False removes it, a file replaces it; a removed or replaced file is deleted after the commit."""
    old_preview = article.preview.name if article.preview else ""
    article.title = title
    article.body = body
    article.is_published = is_published
    article.published_at = published_at
    if preview is False:
        article.preview = ""
    elif preview:
        article.preview = preview
    article_save(article=article)
    if old_preview and old_preview != article.preview.name:
        _delete_file_on_commit(article.preview.storage, old_preview)
    logger.info("article %s updated (published: %s)", article.pk, article.is_published)
    return article


@transaction.atomic
def article_delete(*, article: Article) -> None:
    pk = article.pk
    preview = article.preview.name or ""
    storage = article.preview.storage
    article.delete()
    _delete_file_on_commit(storage, preview)
    transaction.on_commit(articles_cache_clear)
    logger.info("article %s deleted", pk)


def article_register_view(*, article: Article, session: SessionBase) -> bool:
    """Count one view of a public article per visitor session; returns True if this one counted.

    The increment is a single UPDATE ... SET views_count = views_count + 1, so concurrent readers
    never lose a count; `article.views_count` is refreshed to the stored value.
    """
    if not article.is_public:
        return False
    seen: list[int] = list(session.get(SEEN_SESSION_KEY, []))
    if article.pk in seen:
        return False
    Article.objects.filter(pk=article.pk).update(views_count=F("views_count") + 1)
    seen.append(article.pk)
    session[SEEN_SESSION_KEY] = seen[-SEEN_SESSION_MAX:]
    article.refresh_from_db(fields=["views_count"])
    return True
