import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from audience.forms import BulkMembershipForm
from audience.selectors import lists_for
from consents.forms import ConsentStatementForm
from consents.selectors import consent_records_of
from consents.services import consent_records_manual
from core.http import AuthenticatedHttpRequest
from core.page_cache import private_page
from mailings.forms import DUPLICATE_EMAIL, RecipientForm
from mailings.selectors import can_view_all_recipients, recipients_for, recipients_visible_to
from mailings.selectors import recipient_list as select_recipients
from mailings.services.recipients import recipient_create as create
from mailings.services.recipients import recipient_delete as delete
from mailings.services.recipients import recipient_update as update
from mailings.views.common import owned_or_refused, owner_filter, paginate, search_query
from suppressions.models import Suppression, suppression_key

logger = logging.getLogger(__name__)


@login_required
@require_safe
@private_page()
def recipient_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    query, show_owner = search_query(request), can_view_all_recipients(request.user)
    owner = owner_filter(request, can_view_all=show_owner)
    page = paginate(request, select_recipients(user=request.user, query=query, owner=owner))
    context = {"page": page, "query": query, "show_owner": show_owner, "owner_filter": owner}
    if owner is None and lists_for(request.user).exists():
        # Only the user's own recipients go into the user's lists (the service filters by the list's owner).
        context["bulk_form"] = BulkMembershipForm(owner=request.user)
    return render(request, "mailings/recipient_list.html", context)


@login_required
@require_safe
@private_page()
def recipient_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    recipient = get_object_or_404(recipients_visible_to(request.user).select_related("owner"), pk=pk)
    mailings = recipient.mailings.select_related("message").order_by("-created_at")[:20]
    suppression = Suppression.objects.filter(
        owner_id=recipient.owner_id, email_key=suppression_key(recipient.email)
    ).first()
    consents = consent_records_of(recipient).select_related("wording")[:50]
    context = {"recipient": recipient, "mailings": mailings, "suppression": suppression, "consents": consents}
    return render(request, "mailings/recipient_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def recipient_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = RecipientForm(request.POST or None, owner=request.user)
    # Who is added by hand needs the owner's word on where the consents come from (38-ФЗ, 152-ФЗ).
    consent_form = ConsentStatementForm(request.POST or None, prefix="consent")
    if request.method == "POST" and form.is_valid() and consent_form.is_valid():
        try:
            with transaction.atomic():
                recipient = create(owner=request.user, **form.cleaned_data)
                consent_records_manual(
                    recipient=recipient,
                    kinds=consent_form.cleaned_data["kinds"],
                    source=consent_form.cleaned_data["source"],
                    source_note=consent_form.cleaned_data["source_note"],
                )
        except IntegrityError:
            # Two submits at once: the database constraint caught what the form check could not.
            form.add_error("email", DUPLICATE_EMAIL)
        else:
            messages.success(request, _("Получатель %(email)s добавлен.") % {"email": recipient.email})
            return redirect("mailings:recipient_detail", pk=recipient.pk)
    return render(request, "mailings/recipient_form.html", {"form": form, "consent_form": consent_form})


@login_required
@require_http_methods(["GET", "POST"])
def recipient_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    recipient = owned_or_refused(owned=recipients_for(request.user), visible=recipients_visible_to(request.user), pk=pk)
    form = RecipientForm(request.POST or None, instance=recipient, owner=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            update(recipient=recipient, **form.cleaned_data)
        except IntegrityError:
            form.add_error("email", DUPLICATE_EMAIL)
        else:
            messages.success(request, _("Получатель %(email)s сохранён.") % {"email": recipient.email})
            return redirect("mailings:recipient_detail", pk=recipient.pk)
    return render(request, "mailings/recipient_form.html", {"form": form, "recipient": recipient})


@login_required
@require_http_methods(["GET", "POST"])
def recipient_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    recipient = owned_or_refused(owned=recipients_for(request.user), visible=recipients_visible_to(request.user), pk=pk)
    if request.method == "POST":
        delete(recipient=recipient)
        messages.success(request, _("Получатель %(email)s удалён.") % {"email": recipient.email})
        return redirect("mailings:recipient_list")
    mailing_count = recipient.mailings.count()
    return render(
        request, "mailings/recipient_confirm_delete.html", {"recipient": recipient, "mailing_count": mailing_count}
    )
