"""Pages of lists (Списки), bulk membership, and the mailing form's picker and live count (JSON)."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audience.forms import DUPLICATE_LIST, BulkMembershipForm, ListForm, MemberRemoveForm
from audience.models import List
from audience.selectors import (
    audience_count,
    can_view_all_lists,
    list_list,
    list_members,
    lists_for,
    lists_visible_to,
    picker_search,
    recipients_by_filter,
)
from audience.services import list_create, list_delete, list_members_add, list_members_remove, list_rename
from core.http import AuthenticatedHttpRequest
from core.page_cache import private_page
from core.params import clean_search, parse_id
from mailings.selectors import mailings_for
from mailings.views.common import owned_or_refused, owner_filter, paginate, search_query

logger = logging.getLogger(__name__)


def _owned_list(request: AuthenticatedHttpRequest, pk: int) -> List:
    return owned_or_refused(owned=lists_for(request.user), visible=lists_visible_to(request.user), pk=pk)


@login_required
@require_safe
@private_page()
def list_index(request: AuthenticatedHttpRequest) -> HttpResponse:
    show_owner = can_view_all_lists(request.user)
    owner = owner_filter(request, can_view_all=show_owner)
    page = paginate(request, list_list(user=request.user, owner=owner))
    context = {"page": page, "show_owner": show_owner, "owner_filter": owner}
    return render(request, "audience/list_list.html", context)


@login_required
@require_safe
@private_page()
def list_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    recipient_list = get_object_or_404(lists_visible_to(request.user).select_related("owner"), pk=pk)
    query = search_query(request)
    members = list_members(recipient_list=recipient_list, query=query)
    page = paginate(request, members)
    context = {
        "list": recipient_list,
        "page": page,
        "query": query,
        "member_count": page.paginator.count,
        "is_owner": recipient_list.owner_id == request.user.pk,
    }
    return render(request, "audience/list_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def list_create_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ListForm(request.POST or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            recipient_list = list_create(owner=request.user, name=form.cleaned_data["name"])
        except IntegrityError:
            form.add_error("name", DUPLICATE_LIST)
        else:
            messages.success(request, _("Список «%(name)s» создан.") % {"name": recipient_list.name})
            return redirect("audience:list_detail", pk=recipient_list.pk)
    return render(request, "audience/list_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def list_update_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    recipient_list = _owned_list(request, pk)
    form = ListForm(request.POST or None, instance=lists_for(request.user).get(pk=pk), owner=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            list_rename(recipient_list=recipient_list, name=form.cleaned_data["name"])
        except IntegrityError:
            form.add_error("name", DUPLICATE_LIST)
        else:
            messages.success(request, _("Список «%(name)s» сохранён.") % {"name": recipient_list.name})
            return redirect("audience:list_detail", pk=recipient_list.pk)
    return render(request, "audience/list_form.html", {"form": form, "list": recipient_list})


@login_required
@require_http_methods(["GET", "POST"])
def list_delete_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    recipient_list = _owned_list(request, pk)
    if request.method == "POST":
        list_delete(recipient_list=recipient_list)
        messages.success(request, _("Список «%(name)s» удалён.") % {"name": recipient_list.name})
        return redirect("audience:list_index")
    context = {"list": recipient_list, "member_count": recipient_list.members.count()}
    return render(request, "audience/list_confirm_delete.html", context)


@login_required
@require_POST
def list_member_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    recipient_list = _owned_list(request, pk)
    form = MemberRemoveForm(request.POST, recipient_list=recipient_list)
    if form.is_valid():
        recipient = form.cleaned_data["recipient"]
        list_members_remove(recipient_list=recipient_list, recipients=recipient_list.members.filter(pk=recipient.pk))
        messages.success(request, _("%(email)s убран из списка.") % {"email": recipient.email})
    else:
        messages.error(request, _("Этого получателя нет в списке."))
    return redirect("audience:list_detail", pk=recipient_list.pk)


@login_required
@require_POST
def bulk_membership(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Add the recipients matching the recipient list's search to a list, or remove them from it."""
    form = BulkMembershipForm(request.POST, owner=request.user)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    if not form.is_valid():
        # Only a forged request gets here (the page offers the user's own lists and the two actions).
        raise Http404
    target: List = form.cleaned_data["target"]
    found = recipients_by_filter(owner=request.user, query=clean_search(form.cleaned_data["q"]))
    if form.cleaned_data["action"] == BulkMembershipForm.ADD:
        n = list_members_add(recipient_list=target, recipients=found)
        text = _("В список «%(name)s» добавлено: %(n)s.")
    else:
        n = list_members_remove(recipient_list=target, recipients=found)
        text = _("Из списка «%(name)s» убрано: %(n)s.")
    messages.success(request, text % {"name": target.name, "n": n})
    if back:
        return redirect(back)
    return redirect("audience:list_detail", pk=target.pk)


def _ids(request: HttpRequest, name: str) -> list[int]:
    return [pk for raw in request.GET.getlist(name)[:1000] if (pk := parse_id(raw)) is not None]


@login_required
@require_safe
def picker(request: AuthenticatedHttpRequest) -> JsonResponse:
    """The owner's recipients matching ?q= by pages (?page=); with ?mailing=<id>, that mailing's chosen ones."""
    mailing = None
    if (mailing_id := parse_id(request.GET.get("mailing", ""))) is not None:
        mailing = mailings_for(request.user).filter(pk=mailing_id).first()
        if mailing is None:
            raise Http404
    page = parse_id(request.GET.get("page", "")) or 1
    results, more = picker_search(owner=request.user, query=search_query(request), page=page, mailing=mailing)
    return JsonResponse({"results": results, "more": more})


@login_required
@require_safe
def audience_count_view(request: AuthenticatedHttpRequest) -> JsonResponse:
    """Unique addresses of the mailing form's current choices (the same union a run takes)."""
    mailing = None
    if (mailing_id := parse_id(request.GET.get("mailing", ""))) is not None:
        mailing = mailings_for(request.user).filter(pk=mailing_id).first()
        if mailing is None:
            raise Http404
    count = audience_count(
        owner=request.user,
        all_recipients=bool(request.GET.get("all_recipients")),
        list_ids=_ids(request, "lists"),
        added_ids=_ids(request, "recipients"),
        removed_ids=_ids(request, "recipients_remove"),
        mailing=mailing,
        clear_chosen=bool(request.GET.get("clear_chosen")),
    )
    return JsonResponse({"count": count})
