import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from mailings.selectors import home_figures

logger = logging.getLogger(__name__)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Mailing and recipient figures: the signed-in user's own, or service-wide totals for visitors."""
    user = request.user if request.user.is_authenticated else None
    return render(request, "mailings/home.html", {"figures": home_figures(user=user)})
