import threading
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from blog.models import Article
from blog.services import SEEN_SESSION_KEY, SEEN_SESSION_MAX, article_register_view
from blog.tests.conftest import MakeArticle


def _session() -> SessionBase:
    return import_module(settings.SESSION_ENGINE).SessionStore()


def test_it_counts_once_per_session(article: Article) -> None:
    session = _session()
    assert article_register_view(article=article, session=session) is True
    assert article.views_count == 1
    assert article_register_view(article=article, session=session) is False
    assert article_register_view(article=Article.objects.get(pk=article.pk), session=session) is False
    assert Article.objects.get(pk=article.pk).views_count == 1
    assert session[SEEN_SESSION_KEY] == [article.pk]


def test_a_new_session_counts_again(article: Article) -> None:
    article_register_view(article=article, session=_session())
    article_register_view(article=article, session=_session())
    assert Article.objects.get(pk=article.pk).views_count == 2


def test_each_article_counts_separately(make_article: MakeArticle) -> None:
    first, second = make_article(), make_article()
    session = _session()
    assert article_register_view(article=first, session=session)
    assert article_register_view(article=second, session=session)
    assert session[SEEN_SESSION_KEY] == [first.pk, second.pk]


def test_drafts_are_not_counted(draft: Article) -> None:
    session = _session()
    assert article_register_view(article=draft, session=session) is False
    assert Article.objects.get(pk=draft.pk).views_count == 0
    assert SEEN_SESSION_KEY not in session


def test_it_increments_in_the_database_not_from_a_stale_copy(article: Article) -> None:
    Article.objects.filter(pk=article.pk).update(views_count=41)  # others counted meanwhile
    with CaptureQueriesContext(connection) as queries:
        article_register_view(article=article, session=_session())
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert '"views_count" = ("blog_article"."views_count" + 1)' in updates[0]
    assert article.views_count == 42


def test_the_session_remembers_a_bounded_number_of_articles(article: Article) -> None:
    session = _session()
    session[SEEN_SESSION_KEY] = list(range(-SEEN_SESSION_MAX, 0))
    article_register_view(article=article, session=session)
    seen = session[SEEN_SESSION_KEY]
    assert len(seen) == SEEN_SESSION_MAX
    assert seen[-1] == article.pk and -SEEN_SESSION_MAX not in seen


@pytest.mark.django_db(transaction=True)
def test_concurrent_visitors_lose_no_count(make_article: MakeArticle) -> None:
    article = make_article()
    threads_count, visits_each = 6, 5
    # Every thread holds a copy read before anyone counted: a read-modify-write would end at 1.
    copies = [Article.objects.get(pk=article.pk) for _ in range(threads_count)]
    start = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def visit(copy: Article) -> None:
        try:
            start.wait()
            for _ in range(visits_each):
                article_register_view(article=copy, session=_session())
        except BaseException as exc:  # noqa: B036 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=visit, args=(copy,)) for copy in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert Article.objects.get(pk=article.pk).views_count == threads_count * visits_each
