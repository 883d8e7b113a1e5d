import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from core.http import AuthenticatedHttpRequest
from core.page_cache import private_page
from mailings.delivery.run_finish import attempt_summary, summary_text
from mailings.forms import AttemptFilterForm
from mailings.models import Attempt
from mailings.selectors import attempt_deliveries, attempts_visible_to, can_view_all_mailings, delivery_state_counts
from mailings.selectors import attempt_list as select_attempts
from mailings.views.common import owner_filter, paginate

logger = logging.getLogger(__name__)


def _attempt_is_final(request: HttpRequest, pk: int) -> bool:
    # While a run is in progress its deliveries are claimed and released between the engine's recorded batches.
    return not Attempt.objects.filter(pk=pk, status=Attempt.Status.IN_PROGRESS).exists()


@login_required
@require_safe
@private_page()
def attempt_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    show_owner = can_view_all_mailings(request.user)
    owner = owner_filter(request, can_view_all=show_owner)
    form = AttemptFilterForm(request.GET or None, owner=request.user)
    mailing, status = None, ""
    attempts = select_attempts(user=request.user, owner=owner)
    if form.is_bound:
        # A filter that does not validate (e.g. another user's mailing id) shows nothing rather than everything.
        if form.is_valid():
            mailing, status = form.cleaned_data["mailing"], form.cleaned_data["status"]
            attempts = select_attempts(user=request.user, mailing=mailing, status=status, owner=owner)
        else:
            attempts = attempts.none()
    page = paginate(request, attempts)
    context = {
        "page": page,
        "form": form,
        "filtered": bool(mailing or status or owner),
        "filter_mailing": mailing,
        "show_owner": show_owner,
        "owner_filter": owner,
    }
    return render(request, "mailings/attempt_list.html", context)


@login_required
@require_safe
@private_page(_attempt_is_final)
def attempt_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    qs = attempts_visible_to(request.user).select_related("mailing__message", "mailing__owner", "retry_of")
    attempt = get_object_or_404(qs, pk=pk)
    page = paginate(request, attempt_deliveries(attempt=attempt), per_page=50)
    context = {
        "attempt": attempt,
        "page": page,
        "state_counts": delivery_state_counts(attempt=attempt),
        # While it runs, the replies so far and why the rest waits (a paused server's trouble).
        "live_summary": "" if attempt.is_final else summary_text(attempt_summary(attempt_id=attempt.pk)),
    }
    return render(request, "mailings/attempt_detail.html", context)
