"""Pages of imports: upload, preview and column mapping, progress, result and the rejected-rows report."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from audience.exports.writers import table_response
from audience.forms import ImportMappingForm, ImportUploadForm
from audience.imports.reading import NotATable, column_names
from audience.imports.services import ImportRefused, import_preview, import_stop, import_upload
from audience.imports.tasks import import_confirm
from audience.models import Import, ImportRow
from audience.selectors import can_view_all_lists, imports_for, imports_visible_to
from consents.forms import ConsentStatementForm
from consents.services import import_consent_state
from core.http import AuthenticatedHttpRequest
from core.page_cache import private_page
from mailings.views.common import owned_or_refused, owner_filter, paginate

logger = logging.getLogger(__name__)


@login_required
@require_safe
@private_page()
def import_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    show_owner = can_view_all_lists(request.user)
    owner = owner_filter(request, can_view_all=show_owner)
    imports = imports_visible_to(request.user).select_related("owner")
    if owner is not None:
        imports = imports.filter(owner=owner)
    page = paginate(request, imports.order_by("-created_at", "-pk"))
    return render(request, "audience/import_list.html", {"page": page, "show_owner": show_owner})


@login_required
@require_http_methods(["GET", "POST"])
def import_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job, _info = import_upload(owner=request.user, upload=form.cleaned_data["file"])
        except ImportRefused as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("audience:import_detail", pk=job.pk)
    return render(request, "audience/import_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def import_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Preview and mapping while uploaded; then progress (the page refreshes itself), then the result."""
    if request.method == "POST":
        job = owned_or_refused(owned=imports_for(request.user), visible=imports_visible_to(request.user), pk=pk)
    else:
        job = get_object_or_404(imports_visible_to(request.user).select_related("owner"), pk=pk)
    context: dict[str, object] = {"job": job, "is_owner": job.owner_id == request.user.pk}
    if job.status == Import.Status.UPLOADED:
        try:
            info = import_preview(job=job)
        except (NotATable, OSError):
            logger.warning("import preview failed: import=%s", job.pk, exc_info=True)
            messages.error(request, _("Файл больше не читается: загрузите его заново."))
            return redirect("audience:import_create")
        has_header = job.has_header
        if request.method == "POST":
            has_header = bool(request.POST.get("has_header"))
        columns = column_names(info, has_header=has_header)
        form = ImportMappingForm(request.POST or None, instance=job, owner=job.owner, columns=columns)
        # The owner states where the file's consents come from; the import records them for every added row.
        consent_form = ConsentStatementForm(request.POST or None, prefix="consent")
        if request.method == "POST" and form.is_valid() and consent_form.is_valid():
            import_consent_state(
                job=job,
                kinds=consent_form.cleaned_data["kinds"],
                source=consent_form.cleaned_data["source"],
                source_note=consent_form.cleaned_data["source_note"],
            )
            import_confirm(job=job, mapping=form.cleaned_data)
            messages.success(request, _("Импорт «%(name)s» начат.") % {"name": job.file_name})
            return redirect("audience:import_detail", pk=job.pk)
        context.update(
            form=form, consent_form=consent_form, columns=columns, preview=info.rows[1:] if has_header else info.rows
        )
    elif request.method == "POST":
        if request.POST.get("action") == "stop":
            if import_stop(job=job):
                messages.success(request, _("Импорт остановлен: ничего не загружено. Загрузите файл ещё раз."))
            else:
                messages.error(request, _("Импорт идёт: остановить можно только зависший импорт."))
        return redirect("audience:import_detail", pk=job.pk)
    return render(request, "audience/import_detail.html", context)


@login_required
@require_safe
def import_rejected(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    """The rows that were not imported, each with its reason (CSV, or XLSX with ?format=xlsx)."""
    job = get_object_or_404(imports_visible_to(request.user), pk=pk)
    reasons = dict(ImportRow.Outcome.choices)
    rows = (
        [row.line, row.email, row.full_name, row.comment, row.list_name, str(reasons[row.outcome])]
        for row in job.rows.filter(outcome__in=ImportRow.REJECTED).order_by("line").iterator(chunk_size=2000)
    )
    return table_response(
        file_format="xlsx" if request.GET.get("format") == "xlsx" else "csv",
        file_name=f"import-{job.pk}-rejected",
        header=[_("Строка"), _("Эл. почта"), _("Ф. И. О."), _("Комментарий"), _("Список"), _("Причина")],
        rows=rows,
        title="Rejected",
    )
