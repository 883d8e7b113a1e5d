import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from blog.selectors import article_random_public
from core.data_versions import cached_for
from core.page_cache import private_page
from mailings.selectors import can_view_all_mailings, home_figures

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
    """Mailing and recipient figures: the signed-in user's own, or service-wide totals for visitors and managers."""
    user = request.user if request.user.is_authenticated else None
    service_wide = user is None or can_view_all_mailings(user)
    figures = cached_for(
        user=user,
        name=f"home_figures:{'all' if service_wide else 'own'}",
        compute=lambda: home_figures(user=None if service_wide else user),
        scope="visible" if service_wide else "own",
    )
    context = {"figures": figures, "service_wide": service_wide, "home_articles": HOME_ARTICLES}
    return render(request, "mailings/home.html", context)
