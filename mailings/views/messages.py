import logging

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_safe

from core.http import AuthenticatedHttpRequest
from core.page_cache import private_page
from mailings.forms import MessageForm
from mailings.selectors import can_view_all_messages, messages_for, messages_visible_to
from mailings.selectors import message_list as select_messages
from mailings.services.messages import MessageInUse
from mailings.services.messages import message_create as create
from mailings.services.messages import message_delete as delete
from mailings.services.messages import message_update as update
from mailings.views.common import owned_or_refused, owner_filter, paginate, search_query

logger = logging.getLogger(__name__)


@login_required
@require_safe
@private_page()
def message_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    query, show_owner = search_query(request), can_view_all_messages(request.user)
    owner = owner_filter(request, can_view_all=show_owner)
    page = paginate(request, select_messages(user=request.user, query=query, owner=owner))
    context = {"page": page, "query": query, "show_owner": show_owner, "owner_filter": owner}
    return render(request, "mailings/message_list.html", context)


@login_required
@require_safe
@private_page()
def message_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(messages_visible_to(request.user).select_related("owner"), pk=pk)
    mailings = message.mailings.order_by("-created_at")[:20]
    return render(request, "mailings/message_detail.html", {"message": message, "mailings": mailings})


@login_required
@require_http_methods(["GET", "POST"])
def message_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        message = create(owner=request.user, **form.cleaned_data)
        flash.success(request, _("Сообщение «%(subject)s» создано.") % {"subject": message.subject})
        return redirect("mailings:message_detail", pk=message.pk)
    return render(request, "mailings/message_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def message_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    message = owned_or_refused(owned=messages_for(request.user), visible=messages_visible_to(request.user), pk=pk)
    form = MessageForm(request.POST or None, instance=message)
    if request.method == "POST" and form.is_valid():
        update(message=message, **form.cleaned_data)
        flash.success(request, _("Сообщение «%(subject)s» сохранено.") % {"subject": message.subject})
        return redirect("mailings:message_detail", pk=message.pk)
    return render(request, "mailings/message_form.html", {"form": form, "message": message})


@login_required
@require_http_methods(["GET", "POST"])
def message_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    message = owned_or_refused(owned=messages_for(request.user), visible=messages_visible_to(request.user), pk=pk)
    if request.method == "POST":
        try:
            delete(message=message)
        except MessageInUse as exc:
            flash.error(
                request,
                ngettext(
                    "Сообщение нельзя удалить: его отправляет %(count)d рассылка. Сначала удалите её или выберите "
                    "в ней другое сообщение.",
                    "Сообщение нельзя удалить: его отправляют %(count)d рассылки. Сначала удалите их или выберите "
                    "в них другое сообщение.",
                    exc.mailing_count,
                )
                % {"count": exc.mailing_count},
            )
            return redirect("mailings:message_detail", pk=message.pk)
        flash.success(request, _("Сообщение «%(subject)s» удалено.") % {"subject": message.subject})
        return redirect("mailings:message_list")
    mailing_count = message.mailings.count()
    return render(request, "mailings/message_confirm_delete.html", {"message": message, "mailing_count": mailing_count})
