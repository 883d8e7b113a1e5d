"""Pages of webhook endpoints: the owner's (list, add, edit, delete, enable or disable, the secret and the
delivery log) and the managers' (every endpoint read-only, without its secret)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core.http import AuthenticatedHttpRequest
from mailings.views.common import owned_or_refused, paginate
from webhooks.forms import EndpointForm
from webhooks.models import WebhookEndpoint
from webhooks.selectors import can_view_all_endpoints, endpoints_for, endpoints_visible_to
from webhooks.sending import error_text
from webhooks.services import (
    endpoint_create,
    endpoint_delete,
    endpoint_disable,
    endpoint_enable,
    endpoint_secret_rotate,
    endpoint_update,
)

# Rows of the delivery log on the endpoint page.
LOG_ROWS = 50


def _owned(request: AuthenticatedHttpRequest, pk: int) -> WebhookEndpoint:
    """The user's own endpoint for a write; 403 for a manager who may only read it, 404 for anyone else."""
    return owned_or_refused(owned=endpoints_for(request.user), visible=endpoints_visible_to(request.user), pk=pk)


@login_required
@require_safe
def endpoint_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    endpoints = endpoints_visible_to(request.user).select_related("owner").order_by("owner__email", "created_at", "pk")
    page = paginate(request, endpoints)
    return render(
        request, "webhooks/endpoint_list.html", {"page": page, "show_owner": can_view_all_endpoints(request.user)}
    )


@login_required
@require_safe
def endpoint_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(endpoints_visible_to(request.user).select_related("owner"), pk=pk)
    log = list(endpoint.requests.select_related("message").order_by("-at", "-pk")[:LOG_ROWS])
    for row in log:
        row.error_text = error_text(row.error) if row.error else ""  # type: ignore[attr-defined]
    context = {
        "endpoint": endpoint,
        "is_owner": endpoint.owner_id == request.user.pk,
        "log": log,
    }
    return render(request, "webhooks/endpoint_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_create_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None, owner_endpoints=endpoints_for(request.user).count())
    if request.method == "POST" and form.is_valid():
        endpoint = endpoint_create(
            owner_id=request.user.pk,
            url=form.cleaned_data["url"],
            description=form.cleaned_data["description"],
            events=form.cleaned_data["events"],
        )
        messages.success(request, _("Точка приёма добавлена. Секрет для проверки подписи — на этой странице."))
        return redirect("webhooks:endpoint_detail", pk=endpoint.pk)
    return render(request, "webhooks/endpoint_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_update_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned(request, pk)
    form = EndpointForm(request.POST or None, instance=endpoints_for(request.user).get(pk=pk))
    if request.method == "POST" and form.is_valid():
        endpoint_update(
            endpoint=endpoint,
            url=form.cleaned_data["url"],
            description=form.cleaned_data["description"],
            events=form.cleaned_data["events"],
        )
        messages.success(request, _("Точка приёма сохранена."))
        return redirect("webhooks:endpoint_detail", pk=endpoint.pk)
    return render(request, "webhooks/endpoint_form.html", {"form": form, "endpoint": endpoint})


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_delete_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned(request, pk)
    if request.method == "POST":
        endpoint_delete(endpoint=endpoint)
        messages.success(request, _("Точка приёма удалена."))
        return redirect("webhooks:endpoint_list")
    return render(request, "webhooks/endpoint_confirm_delete.html", {"endpoint": endpoint})


@login_required
@require_POST
def endpoint_enable_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned(request, pk)
    endpoint_enable(endpoint=endpoint)
    messages.success(request, _("Точка приёма включена."))
    return redirect("webhooks:endpoint_detail", pk=endpoint.pk)


@login_required
@require_POST
def endpoint_disable_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned(request, pk)
    endpoint_disable(endpoint=endpoint)
    messages.success(request, _("Точка приёма отключена: новые события на неё не отправляются."))
    return redirect("webhooks:endpoint_detail", pk=endpoint.pk)


@login_required
@require_POST
def endpoint_rotate_secret_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned(request, pk)
    endpoint_secret_rotate(endpoint=endpoint)
    messages.success(request, _("Новый секрет создан: с этой минуты запросы подписываются им."))
    return redirect("webhooks:endpoint_detail", pk=endpoint.pk)
