"""A manager disables or enables a mailing, with a reason (permission mailings.disable_mailing)."""

import logging
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.http import AuthenticatedHttpRequest
from mailings.models import Mailing
from mailings.selectors import mailings_visible_to
from moderation.services import ModerationRefused
from moderation.services import mailing_disable as disable
from moderation.services import mailing_enable as enable
from users.forms import ModerationReasonForm

logger = logging.getLogger(__name__)


def _moderate(request: AuthenticatedHttpRequest, pk: int, *, disabling: bool) -> HttpResponse:
    # 404 for a mailing the user cannot see, then 403 for one they see but may not moderate (its owner).
    mailing = get_object_or_404(mailings_visible_to(request.user).select_related("message", "owner"), pk=pk)
    if not request.user.has_perm("mailings.disable_mailing"):
        raise PermissionDenied
    if mailing.is_enabled != disabling:
        messages.info(request, _("Рассылка уже отключена.") if disabling else _("Рассылка уже включена."))
        return redirect("mailings:mailing_detail", pk=mailing.pk)
    form = ModerationReasonForm(request.POST or None, required=disabling)
    if request.method == "POST" and form.is_valid():
        service: Callable[..., Mailing] = disable if disabling else enable
        try:
            service(mailing=mailing, actor=request.user, reason=form.cleaned_data["reason"])
        except ModerationRefused as exc:
            messages.error(request, str(exc))
        else:
            done = _("Рассылка #%(pk)s отключена.") if disabling else _("Рассылка #%(pk)s включена.")
            messages.success(request, done % {"pk": mailing.pk})
        return redirect("mailings:mailing_detail", pk=mailing.pk)
    return render(request, "mailings/mailing_moderate.html", {"mailing": mailing, "form": form, "disabling": disabling})


@login_required
@require_http_methods(["GET", "POST"])
def mailing_disable(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _moderate(request, pk, disabling=True)


@login_required
@require_http_methods(["GET", "POST"])
def mailing_enable(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _moderate(request, pk, disabling=False)
