import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from mailings.cache import cached_for
from mailings.selectors import home_figures

logger = logging.getLogger(__name__)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Mailing and recipient figures: the signed-in user's own, or service-wide totals for visitors."""
    user = request.user if request.user.is_authenticated else None
    # Not a private_page: the blog's random articles change on their own clock. The figures are the costly part.
    figures = cached_for(user=user, name="home_figures", compute=lambda: home_figures(user=user), scope="own")
    return render(request, "mailings/home.html", {"figures": figures})
