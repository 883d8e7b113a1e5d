import logging
from collections.abc import Callable, Iterable
from html import escape as html_escape

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from core.data_versions import cached_for
from core.http import AuthenticatedHttpRequest
from core.page_cache import private_page
from mailings.models import Mailing
from mailings.selectors import (
    MailingFigures,
    can_view_all_mailings,
    stats_mailings,
    stats_mailings_fill,
    stats_totals,
)
from mailings.views.common import owner_filter, paginate

logger = logging.getLogger(__name__)

# One row of the table, as templates/mailings/stats.html rendered it with a {% for %} loop: the loop's
# variable lookups, {% url %} tags and localized numbers were most of the page's cost (issue 21,
# "Reports at scale"). The markup (the `data-label` of each cell is the column name a phone's stacked
# table shows, tests/test_accessible_markup.py) is the template's, byte for byte.
ROW = (
    "\n      <tr>\n"
    '        <td data-label="{l_mailing}"><a href="{detail_url}">{name}</a> '
    '<span class="badge {badge}">{status}</span>{disabled}</td>\n'
    "        {owner_cell}\n"
    '        <td data-label="{l_attempts}"><a href="{attempts_url}?mailing={pk}">{attempts_total}</a></td>\n'
    '        <td class="text-success" data-label="{l_success}"><a class="link-success" '
    'href="{attempts_url}?mailing={pk}&amp;status=success">{attempts_success}</a></td>\n'
    '        <td class="text-danger" data-label="{l_failure}"><a class="link-danger" '
    'href="{attempts_url}?mailing={pk}&amp;status=failure">{attempts_failure}</a></td>\n'
    '        <td data-label="{l_delivered}">{delivered}</td>\n'
    '        <td data-label="{l_bounced}">{bounced}</td>\n'
    '        <td data-label="{l_undelivered}">{undelivered}</td>\n'
    "      </tr>\n    "
)
OWNER_CELL = (
    '<td class="small text-break cell-email" data-label="{l_owner}"><a href="?owner={owner_id}">{email}</a></td>'
)
BADGES: dict[str, str] = {
    Mailing.Status.RUNNING.value: "text-bg-success",
    Mailing.Status.FINISHED.value: "text-bg-secondary",
}


def _id_url(name: str) -> Callable[[int], str]:
    """`reverse(name, args=[pk])` for every row at the price of one reverse()."""
    marker = "9876543210"
    head, _, tail = reverse(name, args=[int(marker)]).partition(marker)
    return lambda pk: f"{head}{pk}{tail}"


def _number_format() -> Callable[[int], str]:
    """What `{{ value }}` shows for a count: localize() per value was a fifth of the table's cost."""
    if settings.USE_THOUSAND_SEPARATOR:
        return lambda value: escape(localize(value))
    return str  # localize() of an int without grouping


def _with_constants(template: str, constants: dict[str, str]) -> str:
    """`template` with these placeholders filled in (escaped), the others left for format()."""
    for name, value in constants.items():
        template = template.replace("{" + name + "}", escape(value).replace("{", "{{").replace("}", "}}"))
    return template


def _table_rows(rows: Iterable[MailingFigures], *, show_owner: bool) -> SafeString:
    """The table's rows: translated and reversed once per page, each row one string format."""
    owner_cell = _with_constants(OWNER_CELL, {"l_owner": gettext("Владелец")}) if show_owner else ""
    row_format = _with_constants(
        ROW.replace("{owner_cell}", owner_cell),
        {
            "l_mailing": gettext("Рассылка"),
            "l_attempts": gettext("Попыток"),
            "l_success": gettext("Успешных"),
            "l_failure": gettext("Неуспешных"),
            "l_delivered": gettext("Доставлено писем"),
            "l_bounced": gettext("Возвраты"),
            "l_undelivered": gettext("Не доставлено"),
            "attempts_url": reverse("mailings:attempt_list"),
        },
    ).format
    disabled = format_html(' <span class="badge text-bg-danger">{}</span>', gettext("Отключена"))
    statuses = {value: escape(str(label)) for value, label in Mailing.Status.choices}
    detail_url = _id_url("mailings:mailing_detail")
    number = _number_format()
    html = []
    for row in rows:
        html.append(
            row_format(
                pk=row.pk,
                detail_url=html_escape(detail_url(row.pk)),
                name=html_escape(str(row)),
                badge=BADGES.get(row.status, "text-bg-info"),
                status=statuses.get(row.status) or html_escape(row.status),
                disabled="" if row.is_enabled else disabled,
                owner_id=row.owner_id,
                email=html_escape(row.owner_email),
                attempts_total=number(row.attempts_total),
                attempts_success=number(row.attempts_success),
                attempts_failure=number(row.attempts_failure),
                delivered=number(row.delivered),
                bounced=number(row.bounced),
                undelivered=number(row.undelivered),
            )
        )
    # Every value above is escaped: html.escape is what django.utils.html.escape calls, without its
    # lazy-string wrapper.
    return mark_safe("".join(html))  # noqa: S308


@login_required
@require_safe
@private_page()
def stats(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The user's own figures; a manager's cover every user's mailings, or one owner's with `?owner=`."""
    show_owner = can_view_all_mailings(request.user)
    owner = owner_filter(request, can_view_all=show_owner)
    page = paginate(request, stats_mailings(user=request.user, owner=owner))
    page.object_list = stats_mailings_fill(list(page.object_list))
    context = {
        "totals": cached_for(
            user=request.user,
            name=f"stats_totals:owner={owner.pk if owner else ''}",
            compute=lambda: stats_totals(user=request.user, owner=owner),
        ),
        "page": page,
        "rows": _table_rows(page.object_list, show_owner=show_owner),
        "show_owner": show_owner,
        "owner_filter": owner,
    }
    return render(request, "mailings/stats.html", context)
