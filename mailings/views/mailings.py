import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from audience.forms import AudienceForm
from core.data_versions import cached_for
from core.http import AuthenticatedHttpRequest
from core.page_cache import private_page
from mailings.delivery.windows import window_label
from mailings.forms import MailingForm
from mailings.models import Attempt, Mailing
from mailings.selectors import can_view_all_mailings, mailings_for, mailings_visible_to
from mailings.selectors import mailing_list as select_mailings
from mailings.services.mailings import mailing_create as create
from mailings.services.mailings import mailing_delete as delete
from mailings.services.mailings import mailing_update as update
from mailings.views.common import owned_or_refused, owner_filter, paginate, search_query

logger = logging.getLogger(__name__)

DETAIL_ATTEMPTS = 10


def _no_run_in_progress(request: HttpRequest, pk: int) -> bool:
    # A run in progress shows the engine's notice (breaker pause, expected finish), which moves with the clock.
    # mailing__pk, not mailing_id: an id too large for the database then matches nothing instead of raising.
    return not Attempt.objects.filter(mailing__pk=pk, status=Attempt.Status.IN_PROGRESS).exists()


@login_required
@require_safe
@private_page()
def mailing_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    query, show_owner = search_query(request), can_view_all_mailings(request.user)
    owner = owner_filter(request, can_view_all=show_owner)
    page = paginate(request, select_mailings(user=request.user, query=query, owner=owner))
    context = {"page": page, "query": query, "show_owner": show_owner, "owner_filter": owner}
    return render(request, "mailings/mailing_list.html", context)


@login_required
@require_safe
@private_page(_no_run_in_progress)
def mailing_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    qs = mailings_visible_to(request.user).select_related("message", "owner", "disabled_by", "smtp_account")
    mailing = get_object_or_404(qs, pk=pk)
    attempts = list(mailing.attempts.order_by("-started_at", "-pk")[: DETAIL_ATTEMPTS + 1])
    context = {
        "mailing": mailing,
        "recipient_count": mailing.recipients.count(),
        "recipients": mailing.recipients.order_by("email")[:10],
        "lists": mailing.lists.order_by("name"),
        # The run's snapshot as of now: counting 100,000 list members costs more than the page, so once per version.
        "audience_count": cached_for(
            user=request.user, name=f"audience_count:mailing={mailing.pk}", compute=lambda: mailing.audience().count()
        ),
        "attempts": attempts[:DETAIL_ATTEMPTS],
        "more_attempts": len(attempts) > DETAIL_ATTEMPTS,
        "send_window": window_label(
            start=mailing.send_window_start, end=mailing.send_window_end, days=mailing.send_window_days
        ),
    }
    return render(request, "mailings/mailing_detail.html", context)


def _form_context(form: MailingForm, audience: AudienceForm, mailing: Mailing | None = None) -> dict[str, Any]:
    count: int | None = None  # a form sent back with errors: the page's script counts its choices
    if not audience.is_bound:
        # Counting 100,000 members costs more than the rest of the page: once per data version.
        count = 0
        if mailing is not None:
            count = cached_for(
                user=mailing.owner,
                name=f"audience_count:mailing={mailing.pk}",
                compute=lambda: mailing.audience().count(),
                scope="own",
            )
    return {
        "form": form,
        "audience": audience,
        "mailing": mailing,
        "picked": audience.picked(),
        "audience_count": count,
    }


@login_required
@require_http_methods(["GET", "POST"])
@private_page()  # the GET: the form shows only the owner's data (messages, lists, chosen recipients)
def mailing_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = MailingForm(request.POST or None, owner=request.user)
    audience = AudienceForm(request.POST or None, owner=request.user)
    # Both validated, so that every error shows at once.
    if request.method == "POST" and all([form.is_valid(), audience.is_valid()]):
        mailing = create(owner=request.user, **form.cleaned_data, **audience.service_kwargs())
        messages.success(request, _("Рассылка #%(pk)s создана.") % {"pk": mailing.pk})
        return redirect("mailings:mailing_detail", pk=mailing.pk)
    return render(request, "mailings/mailing_form.html", _form_context(form, audience))


@login_required
@require_http_methods(["GET", "POST"])
@private_page()
def mailing_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    mailing = owned_or_refused(owned=mailings_for(request.user), visible=mailings_visible_to(request.user), pk=pk)
    # The form writes the new values onto its instance while validating; the service compares against the old ones.
    form = MailingForm(request.POST or None, instance=mailings_for(request.user).get(pk=pk), owner=request.user)
    audience = AudienceForm(request.POST or None, owner=request.user, mailing=mailing)
    if request.method == "POST" and all([form.is_valid(), audience.is_valid()]):
        update(mailing=mailing, **form.cleaned_data, **audience.service_kwargs())
        messages.success(request, _("Рассылка #%(pk)s сохранена.") % {"pk": mailing.pk})
        return redirect("mailings:mailing_detail", pk=mailing.pk)
    return render(request, "mailings/mailing_form.html", _form_context(form, audience, mailing))


@login_required
@require_http_methods(["GET", "POST"])
def mailing_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    owned = mailings_for(request.user).select_related("message")
    mailing = owned_or_refused(owned=owned, visible=mailings_visible_to(request.user), pk=pk)
    if request.method == "POST":
        delete(mailing=mailing)
        messages.success(request, _("Рассылка #%(pk)s удалена.") % {"pk": pk})
        return redirect("mailings:mailing_list")
    attempt_count = mailing.attempts.count()
    return render(request, "mailings/mailing_confirm_delete.html", {"mailing": mailing, "attempt_count": attempt_count})
