import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from core.data_versions import cached_for
from core.http import AuthenticatedHttpRequest
from core.page_cache import private_page
from mailings.selectors import can_view_all_mailings, stats_mailings, stats_mailings_fill, stats_totals
from mailings.views.common import owner_filter, paginate

logger = logging.getLogger(__name__)


@login_required
@require_safe
@private_page()
def stats(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The user's own figures; a manager's cover every user's mailings, or one owner's with `?owner=`."""
    show_owner = can_view_all_mailings(request.user)
    owner = owner_filter(request, can_view_all=show_owner)
    page = paginate(request, stats_mailings(user=request.user, owner=owner))
    page.object_list = stats_mailings_fill(list(page.object_list))
    context = {
        "totals": cached_for(
            user=request.user,
            name=f"stats_totals:owner={owner.pk if owner else ''}",
            compute=lambda: stats_totals(user=request.user, owner=owner),
        ),
        "page": page,
        "show_owner": show_owner,
        "owner_filter": owner,
    }
    return render(request, "mailings/stats.html", context)
