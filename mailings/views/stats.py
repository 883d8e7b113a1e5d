import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mailings.selectors import stats_per_mailing, stats_totals
from mailings.views.common import paginate

logger = logging.getLogger(__name__)


@login_required
def stats(request: HttpRequest) -> HttpResponse:
    context = {
        "totals": stats_totals(user=request.user),
        "page": paginate(request, stats_per_mailing(user=request.user)),
    }
    return render(request, "mailings/stats.html", context)
