import re
from datetime import timedelta

from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from blog.models import Article
from blog.tests.conftest import MakeArticle

_DETAIL_LINK = re.compile(r'href="/blog/(\d+)/"')


def _render(count: int = 3) -> str:
    return Template("{% load blog_tags %}{% random_articles " + str(count) + " %}").render(Context())


def _shown(html: str) -> list[int]:
    return [int(pk) for pk in _DETAIL_LINK.findall(html)]


def test_it_shows_three_random_published_articles_and_never_a_draft(make_article: MakeArticle) -> None:
    published = {make_article().pk for _ in range(6)}
    draft = make_article(published=False, title="Секретный черновик")
    make_article(title="Завтрашняя статья", published_at=timezone.now() + timedelta(days=1))
    html = _render()
    shown = _shown(html)
    assert len(shown) == 3 and len(set(shown)) == 3
    assert set(shown) <= published
    assert draft.title not in html and "Завтрашняя статья" not in html
    assert 'href="/blog/"' in html


def test_it_shows_fewer_when_fewer_are_published(make_article: MakeArticle) -> None:
    one = make_article()
    make_article(published=False)
    assert _shown(_render()) == [one.pk]


def test_it_says_so_when_nothing_is_published(draft: Article) -> None:
    html = _render()
    assert _shown(html) == []
    assert "Статей пока нет" in html


def test_the_pick_is_cached_for_everyone(make_article: MakeArticle) -> None:
    for _ in range(10):
        make_article()
    first = _shown(_render())
    assert all(_shown(_render()) == first for _ in range(5))


def test_the_home_page_shows_at_most_three_published_articles(client: Client, make_article: MakeArticle) -> None:
    published = {make_article().pk for _ in range(5)}
    draft = make_article(published=False, title="Секретный черновик")
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    shown = _shown(html)
    assert len(shown) == 3 and set(shown) <= published
    assert draft.title not in html
