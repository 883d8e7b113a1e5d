"""django-axes hooks."""

from typing import Any

from django.http import HttpRequest


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    """The login address as axes counts it: sign-in ignores case, so must the failure counter.

    Without this, "Owner@…" and "owner@…" would each get their own AXES_FAILURE_LIMIT tries.
    """
    value = credentials.get("username") if credentials else request.POST.get("username")
    return str(value or "").strip().lower()
