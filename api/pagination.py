"""Cursor pagination: pages in primary-key order, each continuing after the last row of the one before.

Keyset, not OFFSET: the next page of 100,000 recipients costs one index range read however deep it is, and rows
added or deleted between pages neither repeat nor vanish. The cursor is opaque to clients.
"""

import base64
import binascii
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _
from ninja import Schema

from api.auth import ApiProblem

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
MAX_ID = 2**53


def _cursor_encode(pk: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{pk}".encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, _sep, raw = text.partition(":")
        pk = int(raw)
        if version != "v1" or not 0 <= pk <= MAX_ID:
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(
            422,
            _("Данные не прошли проверку"),
            _("Неверный курсор: передайте значение next_cursor из предыдущей страницы."),
            errors={"cursor": [_("Неверный курсор.")]},
        ) from None
    return pk


class PageQuery(Schema):
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def page(qs: QuerySet[M], *, cursor: str | None, limit: int, columns: Sequence[str] | None = None) -> dict[str, Any]:
    """One page of `qs` in pk order: {"items": [...], "next_cursor": str | None}.

    With `columns` (the output schema's fields, all model columns) the rows are read as dicts: no model instance is
    built, which is most of the cost of a large page (bench/api.py).
    """
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        qs = qs.filter(pk__gt=_cursor_decode(cursor))
    ordered = qs.order_by("pk")
    rows: list[Any] = list((ordered.values("pk", *columns) if columns else ordered)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    last = (rows[-1]["pk"] if columns else rows[-1].pk) if rows else None
    return {"items": rows, "next_cursor": _cursor_encode(last) if more and last is not None else None}
