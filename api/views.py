"""The profile's «Токены API» page: create (the secret shown once), see the last use, revoke."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from api.forms import ApiTokenForm
from api.models import ApiToken
from api.services import api_token_create, api_token_revoke
from core.http import AuthenticatedHttpRequest

logger = logging.getLogger(__name__)

_SECRET_KEY = "api_token_secret"


def _tokens_for(request: AuthenticatedHttpRequest) -> "list[ApiToken]":
    return list(ApiToken.objects.filter(owner=request.user).order_by("-created_at", "-pk"))


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token, secret = api_token_create(owner=request.user, **form.cleaned_data)
        messages.success(
            request,
            _("Токен «%(name)s» создан. Скопируйте его сейчас: больше он показан не будет.") % {"name": token.name},
        )
        # Shown by the page the redirect leads to, once: a reload or the back button never shows it again.
        request.session[_SECRET_KEY] = secret
        return redirect("api_tokens:token_list")
    secret = request.session.pop(_SECRET_KEY, None)
    response = render(request, "api/token_list.html", {"form": form, "tokens": _tokens_for(request), "secret": secret})
    # The page may carry a secret: never kept by any cache.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.filter(owner=request.user), pk=pk)
    if api_token_revoke(token=token):
        messages.success(
            request, _("Токен «%(name)s» отозван: запросы с ним больше не принимаются.") % {"name": token.name}
        )
    return redirect("api_tokens:token_list")
