"""Pages of bounce processing: the owner's own mailbox (see, set up, check) and the managers' read-only view."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from bounces.forms import BounceMailboxForm
from bounces.mailboxes import bounce_mailbox_check_request, bounce_mailbox_save
from bounces.models import BounceMailbox
from bounces.selectors import bounce_mailboxes_visible_to, bounces_recent, can_view_all_bounce_mailboxes
from core.http import AuthenticatedHttpRequest
from mailings.views.common import paginate

logger = logging.getLogger(__name__)


def _own(request: AuthenticatedHttpRequest) -> BounceMailbox | None:
    return BounceMailbox.objects.filter(owner=request.user).first()


def _page(request: AuthenticatedHttpRequest, mailbox: BounceMailbox | None, owner_id: int | None) -> HttpResponse:
    """`owner_id` None: the service mailbox, whose reports are listed on their owners' pages."""
    context = {
        "mailbox": mailbox,
        "is_owner": owner_id is not None and owner_id == request.user.pk,
        "bounces": bounces_recent(owner_id=owner_id) if owner_id is not None else [],
        "can_view_all": can_view_all_bounce_mailboxes(request.user),
    }
    return render(request, "bounces/mailbox_detail.html", context)


@login_required
@require_safe
def mailbox_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The user's own bounce mailbox, or how to set one up."""
    # Not page-cached: "checking…" turns into the verdict without any change the owner made.
    return _page(request, _own(request), request.user.pk)


@login_required
@require_safe
def mailbox_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    mailbox = get_object_or_404(bounce_mailboxes_visible_to(request.user), pk=pk)
    return _page(request, mailbox, mailbox.owner_id)


@login_required
@require_safe
def mailbox_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every owner's mailbox, for managers (read-only)."""
    if not can_view_all_bounce_mailboxes(request.user):
        raise PermissionDenied
    page = paginate(request, bounce_mailboxes_visible_to(request.user).order_by("owner__email", "pk"))
    return render(request, "bounces/mailbox_list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def mailbox_edit(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Set up or change the user's own mailbox (anyone's own; nobody edits another's)."""
    mailbox = _own(request)
    form = BounceMailboxForm(request.POST or None, instance=mailbox)
    if request.method == "POST" and form.is_valid():
        saved = bounce_mailbox_save(
            owner=request.user, values=form.settings_values(), password=form.cleaned_data["password"]
        )
        bounce_mailbox_check_request(mailbox=saved)
        messages.success(request, _("Ящик для возвратов сохранён. Проверяем вход в фоне: обновите страницу."))
        return redirect("bounces:mailbox")
    return render(request, "bounces/mailbox_form.html", {"form": form, "mailbox": mailbox})


@login_required
@require_POST
def mailbox_check(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Log in and read the mailbox now, in the worker (a web request never opens IMAP)."""
    mailbox = _own(request)
    if mailbox is None:
        raise Http404
    bounce_mailbox_check_request(mailbox=mailbox)
    messages.info(request, _("Проверяем ящик: это займёт несколько секунд. Обновите страницу, чтобы увидеть итог."))
    return redirect("bounces:mailbox")
