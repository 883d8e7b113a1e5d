"""Pages of SMTP accounts: the owner's (list, add, edit, delete, check the connection) and the managers'
(see every account read-only, disable or enable one with a reason)."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core.http import AuthenticatedHttpRequest
from core.page_cache import private_page
from mailings.delivery.accounts import account_sender
from mailings.delivery.breaker import account_state_peek
from mailings.views.common import owned_or_refused, paginate
from moderation.services import ModerationRefused, smtp_account_disable, smtp_account_enable
from senders.forms import SmtpAccountForm
from senders.models import SmtpAccount
from senders.presets import PRESETS
from senders.selectors import (
    can_view_all_smtp_accounts,
    smtp_accounts_for,
    smtp_accounts_visible_to,
)
from senders.selectors import (
    smtp_account_list as select_accounts,
)
from senders.services import (
    SmtpAccountInUse,
    smtp_account_check_request,
    smtp_account_create,
    smtp_account_delete,
    smtp_account_update,
)
from users.forms import ModerationReasonForm

logger = logging.getLogger(__name__)

DUPLICATE_NAME = _("У вас уже есть учётная запись с таким названием.")


def _owned(request: AuthenticatedHttpRequest, pk: int) -> SmtpAccount:
    """The user's own account for a write; 403 for a manager who may only read it, 404 for anyone else."""
    return owned_or_refused(
        owned=smtp_accounts_for(request.user), visible=smtp_accounts_visible_to(request.user), pk=pk
    )


@login_required
@require_safe
@private_page()
def smtp_account_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    show_owner = can_view_all_smtp_accounts(request.user)
    page = paginate(request, select_accounts(user=request.user))
    return render(request, "senders/smtp_account_list.html", {"page": page, "show_owner": show_owner})


@login_required
@require_safe
def smtp_account_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    # Not page-cached: "checking…" turns into the verdict without any change the owner made.
    account = get_object_or_404(smtp_accounts_visible_to(request.user).select_related("owner", "disabled_by"), pk=pk)
    sender = account_sender(account)
    state = account_state_peek(account=account.breaker_key)
    today = timezone.localdate()
    day_count = state.day_count if state.day_start and timezone.localtime(state.day_start).date() == today else 0
    context = {
        "account": account,
        "state": state,
        "paused_reason": sender.paused.text() if sender.paused else "",
        "day_count": day_count,
        "mailings": account.mailings.select_related("message").order_by("-created_at")[:20],
        "is_owner": account.owner_id == request.user.pk,
    }
    return render(request, "senders/smtp_account_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def smtp_account_create_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SmtpAccountForm(request.POST or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            account = smtp_account_create(
                owner=request.user, values=form.settings_values(), password=form.cleaned_data["password"]
            )
        except IntegrityError:
            form.add_error("name", DUPLICATE_NAME)
        else:
            messages.success(
                request, _("Учётная запись «%(name)s» добавлена. Проверьте соединение.") % {"name": account.name}
            )
            return redirect("senders:smtp_account_detail", pk=account.pk)
    return render(request, "senders/smtp_account_form.html", {"form": form, "presets": PRESETS})


@login_required
@require_http_methods(["GET", "POST"])
def smtp_account_update_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = _owned(request, pk)
    form = SmtpAccountForm(
        request.POST or None, instance=smtp_accounts_for(request.user).get(pk=pk), owner=request.user
    )
    if request.method == "POST" and form.is_valid():
        try:
            smtp_account_update(account=account, values=form.settings_values(), password=form.cleaned_data["password"])
        except IntegrityError:
            form.add_error("name", DUPLICATE_NAME)
        else:
            messages.success(request, _("Учётная запись «%(name)s» сохранена.") % {"name": account.name})
            return redirect("senders:smtp_account_detail", pk=account.pk)
    return render(request, "senders/smtp_account_form.html", {"form": form, "account": account, "presets": PRESETS})


@login_required
@require_http_methods(["GET", "POST"])
def smtp_account_delete_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = _owned(request, pk)
    if request.method == "POST":
        try:
            smtp_account_delete(account=account)
        except SmtpAccountInUse as exc:
            messages.error(request, str(exc))
            return redirect("senders:smtp_account_detail", pk=account.pk)
        messages.success(request, _("Учётная запись «%(name)s» удалена.") % {"name": account.name})
        return redirect("senders:smtp_account_list")
    mailings = account.mailings.select_related("message").order_by("-created_at")[:20]
    return render(request, "senders/smtp_account_confirm_delete.html", {"account": account, "mailings": mailings})


@login_required
@require_POST
def smtp_account_check(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = _owned(request, pk)
    smtp_account_check_request(account=account)
    messages.info(
        request, _("Проверяем соединение: это займёт несколько секунд. Обновите страницу, чтобы увидеть итог.")
    )
    return redirect("senders:smtp_account_detail", pk=account.pk)


def _moderate(request: AuthenticatedHttpRequest, pk: int, *, disabling: bool) -> HttpResponse:
    # 404 for an account the user cannot see, then 403 for one they see but may not moderate (its owner).
    account = get_object_or_404(smtp_accounts_visible_to(request.user).select_related("owner"), pk=pk)
    if not request.user.has_perm("senders.disable_smtp_account"):
        raise PermissionDenied
    if account.is_enabled != disabling:
        messages.info(request, _("Учётная запись уже отключена.") if disabling else _("Учётная запись уже включена."))
        return redirect("senders:smtp_account_detail", pk=account.pk)
    form = ModerationReasonForm(request.POST or None, required=disabling)
    if request.method == "POST" and form.is_valid():
        try:
            if disabling:
                smtp_account_disable(account=account, actor=request.user, reason=form.cleaned_data["reason"])
            else:
                smtp_account_enable(account=account, actor=request.user, reason=form.cleaned_data["reason"])
        except ModerationRefused as exc:
            messages.error(request, str(exc))
        else:
            done = _("Учётная запись «%(name)s» отключена.") if disabling else _("Учётная запись «%(name)s» включена.")
            messages.success(request, done % {"name": account.name})
        return redirect("senders:smtp_account_detail", pk=account.pk)
    context = {"account": account, "form": form, "disabling": disabling}
    return render(request, "senders/smtp_account_moderate.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def smtp_account_disable_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _moderate(request, pk, disabling=True)


@login_required
@require_http_methods(["GET", "POST"])
def smtp_account_enable_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _moderate(request, pk, disabling=False)
