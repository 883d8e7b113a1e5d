import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from mailings.forms import AttemptFilterForm
from mailings.selectors import attempt_deliveries, attempts_for, delivery_state_counts
from mailings.selectors import attempt_list as select_attempts
from mailings.views.common import paginate

logger = logging.getLogger(__name__)


@login_required
def attempt_list(request: HttpRequest) -> HttpResponse:
    form = AttemptFilterForm(request.GET or None, owner=request.user)
    mailing, status = None, ""
    attempts = select_attempts(user=request.user)
    if form.is_bound:
        # A filter that does not validate (e.g. another user's mailing id) shows nothing rather than everything.
        if form.is_valid():
            mailing, status = form.cleaned_data["mailing"], form.cleaned_data["status"]
            attempts = select_attempts(user=request.user, mailing=mailing, status=status)
        else:
            attempts = attempts.none()
    page = paginate(request, attempts)
    context = {"page": page, "form": form, "filtered": bool(mailing or status), "filter_mailing": mailing}
    return render(request, "mailings/attempt_list.html", context)


@login_required
def attempt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    attempt = get_object_or_404(attempts_for(request.user).select_related("mailing__message", "retry_of"), pk=pk)
    page = paginate(request, attempt_deliveries(attempt=attempt), per_page=50)
    context = {"attempt": attempt, "page": page, "state_counts": delivery_state_counts(attempt=attempt)}
    return render(request, "mailings/attempt_detail.html", context)
