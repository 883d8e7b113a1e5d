"""The public unsubscribe page and one-click endpoint, and the owner's list of suppressions («Отписки»)."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from core.http import AuthenticatedHttpRequest
from core.page_cache import private_page
from mailings.views.common import owned_or_refused, owner_filter, paginate, search_query
from suppressions.forms import SuppressionRemoveForm, UnsubscribeForm
from suppressions.links import ONE_CLICK_BODY
from suppressions.models import Suppression, SuppressionLift, suppression_key
from suppressions.selectors import (
    can_view_all_suppressions,
    lifts_visible_to,
    suppression_list,
    suppressions_for,
    suppressions_visible_to,
)
from suppressions.services import suppression_add, suppression_lift
from suppressions.tokens import UnsubscribeToken, token_read
from users.models import User

logger = logging.getLogger(__name__)

# Kept in a lift row in the service's language: the recipient's own «Подписаться снова» is the consent.
RESUBSCRIBE_STATEMENT = gettext_noop("Получатель нажал «Подписаться снова» на странице отписки.")


def _read(token: str) -> tuple[UnsubscribeToken, User] | None:
    """The token's contents and its owner, or None (forged, altered, or the owner's account is gone)."""
    data = token_read(token)
    if data is None:
        return None
    owner = User.objects.filter(pk=data.owner_id).first()
    return (data, owner) if owner is not None else None


def _refused(request: HttpRequest) -> HttpResponse:
    # The same page for every bad link: it says nothing about whether any address or owner exists.
    return render(request, "suppressions/unsubscribe_invalid.html", status=404)


def _entry(owner: User, email: str) -> Suppression | None:
    return Suppression.objects.filter(owner=owner, email_key=suppression_key(email)).first()


@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows whom the address is unsubscribed from and the button (link scanners open links: GET changes
    nothing); POST `unsubscribe` suppresses the address at once, POST `resubscribe` undoes the recipient's own
    unsubscribe. No login: the token is the authority."""
    found = _read(token)
    if found is None:
        return _refused(request)
    data, owner = found
    entry = _entry(owner, data.email)
    form = UnsubscribeForm(request.POST or None)
    if request.method == "POST":
        action = request.POST.get("action", "unsubscribe")
        if action == "resubscribe":
            if entry is not None and entry.source in Suppression.RECIPIENT_SOURCES:
                suppression_lift(
                    suppression=entry, how=SuppressionLift.How.RESUBSCRIBE, statement=RESUBSCRIBE_STATEMENT
                )
                messages.success(request, _("Вы снова подписаны на рассылку."))
            return redirect("suppressions:unsubscribe", token=token)
        if form.is_valid():
            suppression_add(
                owner_id=owner.pk, email=data.email, source=Suppression.Source.LINK, reason=form.cleaned_data["reason"]
            )
            messages.success(request, _("Готово: вы отписаны. Писем от этого отправителя больше не будет."))
            return redirect("suppressions:unsubscribe", token=token)
    context = {
        "email": data.email,
        "sender": owner.sender_name or owner.get_full_name() or _("отправитель"),
        "entry": entry,
        "may_resubscribe": entry is not None and entry.source in Suppression.RECIPIENT_SOURCES,
        "form": form,
    }
    return render(request, "suppressions/unsubscribe.html", context)


# RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click` with no cookies, so no CSRF token can be
# there. Exempting this endpoint is safe: the unguessable token in the address is the authority, the request
# can only suppress (never lift) that one address, and it changes nothing for whoever sends it. The page
# above, which also lifts, keeps Django's CSRF protection.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def one_click(request: HttpRequest, token: str) -> HttpResponse:
    """The List-Unsubscribe address: a one-click POST unsubscribes at once (200); a GET shows the page."""
    if request.method == "GET":
        return redirect("suppressions:unsubscribe", token=token)
    found = _read(token)
    if found is None:
        return _refused(request)
    data, owner = found
    if request.POST.get("List-Unsubscribe") != ONE_CLICK_BODY.split("=", 1)[1]:
        return HttpResponse(_("Ожидался запрос List-Unsubscribe=One-Click."), status=400, content_type="text/plain")
    suppression_add(owner_id=owner.pk, email=data.email, source=Suppression.Source.ONE_CLICK)
    return HttpResponse(_("Вы отписаны."), content_type="text/plain; charset=utf-8")


@login_required
@require_safe
@private_page()
def suppression_index(request: AuthenticatedHttpRequest) -> HttpResponse:
    query, show_owner = search_query(request), can_view_all_suppressions(request.user)
    owner = owner_filter(request, can_view_all=show_owner)
    page = paginate(request, suppression_list(user=request.user, query=query, owner=owner))
    lifts = lifts_visible_to(request.user)
    if owner is not None:
        lifts = lifts.filter(owner=owner)
    context = {
        "page": page,
        "query": query,
        "show_owner": show_owner,
        "owner_filter": owner,
        "lifts": lifts[:20],
    }
    return render(request, "suppressions/suppression_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def suppression_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Only the owner, and only by stating how the new consent was obtained (kept in a SuppressionLift row)."""
    entry = owned_or_refused(owned=suppressions_for(request.user), visible=suppressions_visible_to(request.user), pk=pk)
    form = SuppressionRemoveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        suppression_lift(
            suppression=entry,
            how=SuppressionLift.How.OWNER_CONSENT,
            statement=form.cleaned_data["statement"],
            by=request.user,
        )
        messages.success(request, _("Адрес %(email)s убран из отписок.") % {"email": entry.email})
        return redirect("suppressions:suppression_list")
    return render(request, "suppressions/suppression_remove.html", {"entry": entry, "form": form})
