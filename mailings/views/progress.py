"""The live part of the mailing and attempt pages: polled by htmx every two seconds while a run is in progress.

Each view answers the `_sending_status.html` block; once nothing is in progress any more it asks htmx to
reload the whole page (`HX-Refresh`), which then shows the finished run's summary and table.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.views.decorators.http import require_safe

from core.http import AuthenticatedHttpRequest
from mailings.selectors import attempts_visible_to, mailings_visible_to
from mailings.templatetags.sending import sending_status


def _answer(request: AuthenticatedHttpRequest, context: dict[str, object]) -> HttpResponse:
    response = HttpResponse(render_to_string("mailings/_sending_status.html", context, request=request))
    status = context["status"]
    if request.headers.get("HX-Request") and not getattr(status, "in_progress", False):
        response["HX-Refresh"] = "true"
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_safe
def mailing_progress(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    mailing = get_object_or_404(mailings_visible_to(request.user), pk=pk)
    return _answer(request, sending_status(mailing))


@login_required
@require_safe
def attempt_progress(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    attempt = get_object_or_404(attempts_visible_to(request.user).select_related("mailing"), pk=pk)
    return _answer(request, sending_status(attempt.mailing, attempt))
