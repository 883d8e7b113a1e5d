"""Downloads: recipients (with their lists), an attempt's ledger and the statistics, as CSV or XLSX.

Owner-scoped like the pages they mirror: a manager exports what a manager may read; another user's
attempt is a 404. GET only: an export changes nothing.
"""

import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_safe

from audience.exports.selectors import (
    ledger_header,
    ledger_rows,
    recipient_header,
    recipient_rows,
    stats_header,
    stats_rows,
)
from audience.exports.writers import FORMATS, table_response
from core.http import AuthenticatedHttpRequest
from mailings.selectors import attempts_visible_to, can_view_all_mailings, can_view_all_recipients, recipient_list
from mailings.views.common import owner_filter, search_query

logger = logging.getLogger(__name__)


def _format(request: HttpRequest) -> str:
    value = request.GET.get("format", "csv")
    return value if value in FORMATS else "csv"


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


@login_required
@require_safe
def export_recipients(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    """The recipients the recipient list page shows for the same ?q= (and ?owner= for a manager), all pages."""
    show_owner = can_view_all_recipients(request.user)
    owner = owner_filter(request, can_view_all=show_owner)
    recipients = recipient_list(user=request.user, query=search_query(request), owner=owner)
    with_owner = show_owner and owner is None
    logger.info("export recipients: user=%s format=%s", request.user.pk, _format(request))
    return table_response(
        file_format=_format(request),
        file_name=f"recipients-{_stamp()}",
        header=recipient_header(with_owner=with_owner),
        rows=recipient_rows(recipients=recipients, with_owner=with_owner),
        title="Recipients",
    )


@login_required
@require_safe
def export_attempt(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    attempt = get_object_or_404(attempts_visible_to(request.user), pk=pk)
    logger.info("export ledger: user=%s attempt=%s format=%s", request.user.pk, attempt.pk, _format(request))
    return table_response(
        file_format=_format(request),
        file_name=f"attempt-{attempt.pk}",
        header=ledger_header(),
        rows=ledger_rows(attempt=attempt),
        title=f"Attempt {attempt.pk}",
    )


@login_required
@require_safe
def export_stats(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    show_owner = can_view_all_mailings(request.user)
    owner = owner_filter(request, can_view_all=show_owner)
    with_owner = show_owner and owner is None
    return table_response(
        file_format=_format(request),
        file_name=f"stats-{_stamp()}",
        header=stats_header(with_owner=with_owner),
        rows=stats_rows(user=request.user, owner=owner, with_owner=with_owner),
        title="Statistics",
    )
