"""Cursor pagination: pages in primary-key order, each continuing after the last row of the one before.

Keyset, not OFFSET: the next page of 100,000 recipients costs one index range read however deep it is, and rows
added or deleted between pages neither repeat nor vanish. The cursor is opaque to clients.
"""

import base64
import binascii
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


def page(qs: QuerySet[M], *, cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of `qs` in pk order: {"items": [...], "next_cursor": str | None}."""
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        qs = qs.filter(pk__gt=_cursor_decode(cursor))
    rows = list(qs.order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": _cursor_encode(rows[-1].pk) if more and rows else None}
