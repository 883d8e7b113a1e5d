"""«Отправить сейчас» and «Повторить для неудачных»: POST only, the owner only; the work happens in the worker."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.http import AuthenticatedHttpRequest
from mailings.delivery.manual_runs import SendRefused, attempt_retry_failed, mailing_send_now
from mailings.models import Attempt
from mailings.selectors import attempts_for, attempts_visible_to, mailings_for, mailings_visible_to
from mailings.views.common import owned_or_refused


@login_required
@require_POST
def mailing_send(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    # Owner only: a manager may see every mailing (403 here) but not send on someone's behalf.
    mailing = owned_or_refused(
        owned=mailings_for(request.user).select_related("owner"), visible=mailings_visible_to(request.user), pk=pk
    )
    try:
        attempt = mailing_send_now(mailing=mailing, trigger=Attempt.Trigger.MANUAL)
    except SendRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Отправка запущена: получателей %(count)s. Письма уходят в фоне, итог появится в попытке.")
            % {"count": attempt.total_count},
        )
    return redirect("mailings:mailing_detail", pk=mailing.pk)


@login_required
@require_POST
def attempt_retry(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    attempt = owned_or_refused(
        owned=attempts_for(request.user).select_related("mailing__owner"),
        visible=attempts_visible_to(request.user),
        pk=pk,
    )
    try:
        retry = attempt_retry_failed(attempt=attempt)
    except SendRefused as exc:
        messages.error(request, str(exc))
        return redirect("mailings:attempt_detail", pk=attempt.pk)
    messages.success(
        request,
        _("Повтор запущен для неудачных получателей: %(count)s. Письма уходят в фоне.") % {"count": retry.total_count},
    )
    return redirect("mailings:attempt_detail", pk=retry.pk)
