"""Small helpers shared by the views: pagination, search, the owner filter and the owner check of writes."""

from collections.abc import Sequence
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from core.params import clean_search, parse_id
from users.models import User

PER_PAGE = 20

M = TypeVar("M", bound=Model)


def paginate(request: HttpRequest, queryset: QuerySet | Sequence[Any], *, per_page: int = PER_PAGE) -> Page:
    """The requested page of `queryset`; a missing or out-of-range page number gives the nearest page."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def search_query(request: HttpRequest) -> str:
    return clean_search(request.GET.get("q", ""))


def owner_filter(request: HttpRequest, *, can_view_all: bool) -> User | None:
    """The user named by `?owner=<id>` on a list page, for someone who sees everyone's rows; else None."""
    owner_id = parse_id(request.GET.get("owner", ""))
    if not can_view_all or owner_id is None:
        return None
    return User.objects.filter(pk=owner_id).first()


def owned_or_refused(*, owned: QuerySet[M], visible: QuerySet[M], pk: int) -> M:
    """The object for a write: the user's own, else 403 if they may only read it (a manager), else 404."""
    obj = owned.filter(pk=pk).first()
    if obj is not None:
        return obj
    if visible.filter(pk=pk).exists():
        raise PermissionDenied
    raise Http404
