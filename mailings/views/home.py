import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from blog.selectors import article_random_public
from core.data_versions import cached_for
from core.page_cache import private_page
from mailings.selectors import home_figures

logger = logging.getLogger(__name__)


# How many of the blog's articles the page shows ({% random_articles home_articles %}).
HOME_ARTICLES = 3


def _blog_pick(request: HttpRequest) -> str:
    # The blog's random pick is cached for everyone for a minute and renewed when articles change: the same
    # pick means the same articles on the page, so it completes the page's validator.
    return ";".join(
        f"{a.pk}:{a.updated_at.isoformat()}:{a.views_count}" for a in article_random_public(count=HOME_ARTICLES)
    )


@require_safe
@private_page(vary_on=_blog_pick)
def home(request: HttpRequest) -> HttpResponse:
    """Mailing and recipient figures: the signed-in user's own, or service-wide totals for visitors."""
    user = request.user if request.user.is_authenticated else None
    figures = cached_for(user=user, name="home_figures", compute=lambda: home_figures(user=user), scope="own")
    return render(request, "mailings/home.html", {"figures": figures, "home_articles": HOME_ARTICLES})
