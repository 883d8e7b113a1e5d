"""django-axes hooks."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    """The login address as axes counts it: sign-in ignores case, so must the failure counter.

    Without this, "Owner@…" and "owner@…" would each get their own AXES_FAILURE_LIMIT tries.
    """
    value = credentials.get("username") if credentials else request.POST.get("username")
    return str(value or "").strip().lower()


def client_ip(request: HttpRequest) -> str | None:
    """The client's address for the lockout counter.

    Behind TRUSTED_PROXY_COUNT reverse proxies every request comes from the
    proxy, so REMOTE_ADDR would lock an account for everybody; the client is
    the address the outermost trusted proxy appended to X-Forwarded-For
    (addresses further left are whatever the client claimed, and are ignored).
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")
