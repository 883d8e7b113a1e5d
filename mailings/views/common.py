"""Small helpers shared by the list views."""

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PER_PAGE = 20


def paginate(request: HttpRequest, queryset: QuerySet, *, per_page: int = PER_PAGE) -> Page:
    """The requested page of `queryset`; a missing or out-of-range page number gives the nearest page."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def search_query(request: HttpRequest) -> str:
    return request.GET.get("q", "").strip()[:200]
