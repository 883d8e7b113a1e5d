"""What every operation shares: the error answers it may give, scoping, turning a form's verdict into a problem."""

from typing import Any, TypeVar

from django import forms
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from ninja import Path

from api.pagination import MAX_ID
from api.problems import Problem, forbidden, form_errors, invalid
from core.http import AuthenticatedHttpRequest
from mailings.views.common import owned_or_refused
from users.models import User

M = TypeVar("M", bound=Model)

# Every error an operation may answer (the idempotency layer adds 409 and 422 to POSTs; 429 is the rate limit).
ERROR_CODES = frozenset({400, 401, 403, 404, 409, 413, 422, 429})
# Every object id in a path: bounded, so no value overflows a database integer.
PK: Any = Path(..., ge=1, le=MAX_ID)

__all__ = ["PK", "answers", "form_check", "owned", "user_of", "query_text", "owned_or_refused"]


def answers(ok: dict[int, Any]) -> dict[Any, Any]:
    """An operation's responses: its own, and the problem document for every 4xx (RFC 9457)."""
    return {**ok, ERROR_CODES: Problem}


def user_of(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # api.auth.TokenAuth set it
    return user


def as_authenticated(request: HttpRequest) -> AuthenticatedHttpRequest:
    return request  # type: ignore[return-value]


def form_check(*bound_forms: forms.BaseForm, rename: dict[str, str] | None = None) -> None:
    """Raise 422 with the forms' own messages per field unless every form is valid."""
    # Every form is validated (a list, not a generator), so that every error shows at once.
    if all([form.is_valid() for form in bound_forms]):  # noqa: C419
        return
    errors = form_errors(*bound_forms)
    if rename:
        errors = {rename.get(k, k): v for k, v in errors.items()}
    raise invalid(errors)


def owned(request: HttpRequest, *, owned: QuerySet[M], visible: QuerySet[M], pk: int) -> M:
    """The object for a write: the user's own; 403 if they may only read it (a manager); else 404."""
    return owned_or_refused(owned=owned, visible=visible, pk=pk)


def query_text(value: str | None) -> str:
    # NUL cannot travel to PostgreSQL in a query; a search for it finds nothing anyway.
    return (value or "").replace("\x00", "").strip()[:200]


def forbidden_unless(allowed: bool) -> None:
    if not allowed:
        raise forbidden()
