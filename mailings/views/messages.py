import logging
from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core.http import AuthenticatedHttpRequest
from core.page_cache import private_page
from mailings.content.render import LARGE_MESSAGE_BYTES
from mailings.delivery.compose import BuildError, composer_for_message
from mailings.delivery.trial import TrialRefused
from mailings.forms import MessageForm
from mailings.models import Message
from mailings.selectors import can_view_all_messages, messages_for, messages_visible_to, recipients_for
from mailings.selectors import message_list as select_messages
from mailings.services.messages import MessageInUse
from mailings.services.messages import message_create as create
from mailings.services.messages import message_delete as delete
from mailings.services.messages import message_test_send as test_send
from mailings.services.messages import message_update as update
from mailings.views.common import owned_or_refused, owner_filter, paginate, search_query
from suppressions.links import unsubscribe_page_url

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


def _preview_for(request: AuthenticatedHttpRequest, message: Message) -> dict[str, Any]:
    """What the chosen recipient (?recipient=<id>, one of the owner's) would get; by default the owner."""
    recipients = recipients_for(request.user).order_by("email")
    chosen = None
    recipient_id = request.GET.get("recipient", "")
    if recipient_id.isdigit():
        chosen = recipients.filter(pk=int(recipient_id)).first()
    # As a mailing sends it: with the unsubscribe footer unless the body places the link itself.
    composer = composer_for_message(message=message, unsubscribe_footer=True)
    email = chosen.email if chosen is not None else request.user.email
    link = unsubscribe_page_url(owner_id=request.user.pk, email=email)
    if chosen is not None:
        values = composer.values(
            email=chosen.email, full_name=chosen.full_name, comment=chosen.comment, unsubscribe_url=link
        )
    else:
        values = composer.values(
            email=request.user.email, full_name=request.user.get_full_name(), comment="", unsubscribe_url=link
        )
    subject, text, html = composer.render(values)
    warnings = list(composer.warnings)
    try:
        _to, data, _mid = composer.build(
            email=values["email"], full_name=values["name"], comment=values["comment"], unsubscribe_url=link
        )
        size = len(data)
    except BuildError as exc:
        warnings.append(_("Письмо этому получателю не собрать: %(reason)s") % {"reason": exc.reason})
        size = 0
    if size > LARGE_MESSAGE_BYTES:
        warnings.append(
            _("Письмо больше %(limit)s КБ: Gmail покажет его обрезанным.") % {"limit": LARGE_MESSAGE_BYTES // 1024}
        )
    return {
        "message": message,
        "recipients": recipients[:500],
        "chosen": chosen,
        "subject": subject,
        "text": text,
        "html": html,
        "size": size,
        "warnings": warnings,
    }


@login_required
@require_safe
def message_preview(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    message = owned_or_refused(owned=messages_for(request.user), visible=messages_visible_to(request.user), pk=pk)
    context = _preview_for(request, message)
    context["recipient_query"] = f"?recipient={context['chosen'].pk}" if context["chosen"] else ""
    return render(request, "mailings/message_preview.html", context)


# The message's HTML is the owner's (sanitised) content with its inline styles: shown only inside
# the preview's sandboxed frame, and sandboxed by this header too if opened on its own.
_PREVIEW_CSP = "sandbox; default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'"


@login_required
@require_safe
@xframe_options_sameorigin
def message_preview_html(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    message = owned_or_refused(owned=messages_for(request.user), visible=messages_visible_to(request.user), pk=pk)
    preview = _preview_for(request, message)
    html = preview["html"]
    if html is None:
        html = f'<pre style="white-space:pre-wrap;font-family:monospace">{escape(preview["text"])}</pre>'
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = _PREVIEW_CSP
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def message_test_send(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    message = owned_or_refused(owned=messages_for(request.user), visible=messages_visible_to(request.user), pk=pk)
    try:
        address = test_send(message=message, user=request.user)
    except TrialRefused as exc:
        if exc.code == "unconfirmed":
            flash.error(request, _("Тестовое письмо можно отправить только на подтверждённый адрес."))
        else:
            flash.error(
                request,
                _("Слишком много тестовых писем. Попробуйте через %(seconds)s с.") % {"seconds": exc.retry_in},
            )
    else:
        flash.success(request, _("Тестовое письмо поставлено в очередь на адрес %(address)s.") % {"address": address})
    return redirect("mailings:message_preview", pk=message.pk)
