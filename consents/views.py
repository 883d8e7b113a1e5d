"""Pages of consents: the owner's wording, evidence exports, the subscribe form's settings, and the public
subscribe form with its confirmation (double opt-in)."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from audience.exports.writers import table_response
from audience.selectors import lists_for, lists_visible_to
from consents.forms import PublicSubscribeForm, WordingForm
from consents.models import ConsentWording, Kind, SubscribeForm
from consents.selectors import (
    consent_export_header,
    consent_export_rows,
    consent_records_of,
    consent_records_visible_to,
    consent_wordings_history,
    consent_wordings_visible_to,
)
from consents.services import (
    consent_wording_current,
    consent_wording_update,
    owner_display_name,
    subscribe_confirm,
    subscribe_form_disable,
    subscribe_form_enable,
    subscribe_ip_allowed,
    subscribe_request,
    subscription_pending_get,
)
from consents.wording import wording_default
from core.http import AuthenticatedHttpRequest
from mailings.selectors import can_view_all_recipients, recipients_visible_to
from mailings.views.common import owned_or_refused, owner_filter
from users.axes import client_ip
from users.models import User

logger = logging.getLogger(__name__)


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _wording_text(owner: User, kind: str) -> tuple[str, ConsentWording | None]:
    """The text a visitor is shown now and its version (None: the default, not yet needed as a version)."""
    current = consent_wording_current(owner_id=owner.pk, kind=kind)
    return (current.text, current) if current is not None else (wording_default(kind, owner), None)


# --- the owner's pages ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def wording_edit(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The signed-in user's two consent texts; saving one makes a new version, the old ones stay as evidence."""
    posted = WordingForm(request.POST) if request.method == "POST" else None
    if posted is not None and posted.is_valid():
        kind = posted.cleaned_data["kind"]
        wording = consent_wording_update(owner=request.user, kind=kind, text=posted.cleaned_data["text"])
        messages.success(
            request,
            _("Текст согласия «%(kind)s» сохранён, версия %(version)s.")
            % {"kind": wording.get_kind_display(), "version": wording.version},
        )
        return redirect("consents:wording_edit")
    sections = []
    for kind, label in Kind.choices:
        text, current = _wording_text(request.user, kind)
        form = posted if posted is not None and posted.data.get("kind") == kind else None
        sections.append(
            {
                "kind": kind,
                "label": label,
                "current": current,
                "form": form or WordingForm(initial={"kind": kind, "text": text}, auto_id=f"id_{kind}_%s"),
                "history": consent_wordings_history(owner=request.user, kind=kind)[:20],
            }
        )
    return render(request, "consents/wording_edit.html", {"sections": sections})


@login_required
@require_safe
def wording_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    wording = get_object_or_404(consent_wordings_visible_to(request.user).select_related("owner"), pk=pk)
    return render(request, "consents/wording_detail.html", {"wording": wording})


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


@login_required
@require_safe
def export_recipient(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    """One recipient's consent evidence as CSV (UTF-8 with BOM), with the exact text agreed to."""
    recipient = get_object_or_404(recipients_visible_to(request.user), pk=pk)
    return table_response(
        file_format="csv",
        file_name=f"consents-recipient-{recipient.pk}-{_stamp()}",
        header=consent_export_header(),
        rows=consent_export_rows(consent_records_of(recipient)),
    )


@login_required
@require_safe
def export_all(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    """The evidence of the whole address book (a manager's: everyone's, or one owner's with ?owner=)."""
    records = consent_records_visible_to(request.user)
    owner = owner_filter(request, can_view_all=can_view_all_recipients(request.user))
    if owner is not None:
        records = records.filter(owner=owner)
    return table_response(
        file_format="csv",
        file_name=f"consents-{_stamp()}",
        header=consent_export_header(),
        rows=consent_export_rows(records),
    )


@login_required
@require_http_methods(["GET", "POST"])
def subscribe_settings(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The list's public form: on or off, its address and the snippet to paste on the owner's site."""
    if request.method == "POST":
        recipient_list = owned_or_refused(owned=lists_for(request.user), visible=lists_visible_to(request.user), pk=pk)
        if request.POST.get("action") == "disable":
            subscribe_form_disable(recipient_list=recipient_list)
            messages.success(request, _("Форма подписки выключена."))
        else:
            subscribe_form_enable(recipient_list=recipient_list)
            messages.success(request, _("Форма подписки включена."))
        return redirect("consents:subscribe_settings", pk=recipient_list.pk)
    recipient_list = get_object_or_404(lists_visible_to(request.user).select_related("owner"), pk=pk)
    form = SubscribeForm.objects.filter(recipient_list=recipient_list).first()
    context: dict[str, object] = {
        "list": recipient_list,
        "subscribe_form": form,
        "is_owner": recipient_list.owner_id == request.user.pk,
    }
    if form is not None:
        public_url = _base_url(request) + form_url(form)
        snippet: dict[str, object] = {"public_url": public_url}
        for kind in Kind.values:
            snippet[kind] = consent_wording_current(owner_id=recipient_list.owner_id, kind=kind)
        # Rendered on its own and shown escaped: the textarea must show the HTML exactly as it is to be pasted.
        context.update(public_url=public_url, snippet=render_to_string("consents/_snippet.html", snippet, request))
    return render(request, "consents/subscribe_settings.html", context)


def form_url(form: SubscribeForm) -> str:
    return reverse("consents:subscribe", args=[form.token])


# --- public pages -----------------------------------------------------------------------------------


def _enabled_form(token: str) -> SubscribeForm:
    # A blocked owner's form takes no subscriptions (and sends no confirmations in the owner's name).
    return get_object_or_404(
        SubscribeForm.objects.select_related("recipient_list__owner"),
        token=token,
        enabled=True,
        recipient_list__owner__is_active=True,
    )


def _public_context(form: SubscribeForm, subscribe: PublicSubscribeForm) -> dict[str, object]:
    owner = form.recipient_list.owner
    personal_data, personal_data_version = _wording_text(owner, Kind.PERSONAL_DATA)
    advertising, advertising_version = _wording_text(owner, Kind.ADVERTISING)
    return {
        "form": subscribe,
        "subscribe_form": form,
        "owner_name": owner_display_name(owner),
        "list_name": form.recipient_list.name,
        "personal_data": personal_data_version,
        "advertising": advertising_version,
        "checkboxes": [
            ("personal_data", personal_data, subscribe["personal_data"]),
            ("advertising", advertising, subscribe["advertising"]),
        ],
    }


# The owner's snippet is a plain <form> on another site that posts here without a CSRF token: no token can be
# had cross-origin. That is safe because the POST changes nothing a forger could profit from: it only keeps a
# pending subscription and sends at most one rate-limited confirmation email to the address typed in; the list
# changes only when the address's owner confirms from that email (a CSRF-protected POST on our own page).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest, token: str) -> HttpResponse:
    form = _enabled_form(token)
    subscribe_form = PublicSubscribeForm(request.POST or None)
    if request.method == "POST":
        ip = client_ip(request)
        if not subscribe_ip_allowed(ip=ip):
            logger.info("subscription refused: too many from one client address (form=%s)", form.pk)
            response = render(request, "consents/subscribe_limited.html", _public_context(form, subscribe_form))
            response.status_code = 429
            return response
        if request.POST.get("website"):
            # A robot filled in the hidden field: the same answer as a person gets, and nothing is sent.
            logger.info("subscription dropped: honeypot filled (form=%s)", form.pk)
            return redirect("consents:subscribe_sent", token=form.token)
        if subscribe_form.is_valid():
            subscribe_request(
                form=form,
                email=subscribe_form.cleaned_data["email"],
                full_name=subscribe_form.cleaned_data["full_name"],
                ip=ip,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                base_url=_base_url(request),
                versions={
                    Kind.PERSONAL_DATA: subscribe_form.cleaned_data["personal_data_version"],
                    Kind.ADVERTISING: subscribe_form.cleaned_data["advertising_version"],
                },
            )
            # The same page whether the address is new, subscribed already, or asked too recently.
            return redirect("consents:subscribe_sent", token=form.token)
    return render(request, "consents/subscribe.html", _public_context(form, subscribe_form))


@require_safe
def subscribe_sent(request: HttpRequest, token: str) -> HttpResponse:
    form = _enabled_form(token)
    context = {
        "owner_name": owner_display_name(form.recipient_list.owner),
        "list_name": form.recipient_list.name,
        "max_age_hours": settings.SUBSCRIBE_CONFIRM_MAX_AGE // 3600,
    }
    return render(request, "consents/subscribe_sent.html", context)


@require_http_methods(["GET", "POST"])
def subscribe_confirm_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners open links and must not subscribe anyone); POST confirms."""
    pending = subscription_pending_get(token=token)
    if pending is None:
        return render(request, "consents/subscribe_confirm_failed.html", status=400)
    recipient_list = pending.form.recipient_list
    context: dict[str, object] = {
        "owner_name": owner_display_name(recipient_list.owner),
        "list_name": recipient_list.name,
        "email": pending.email,
        "confirmed": pending.confirmed_at is not None,
    }
    if request.method == "POST":
        subscribe_confirm(pending=pending)
        context["confirmed"] = True
        context["just_confirmed"] = True
    return render(request, "consents/subscribe_confirm.html", context)
