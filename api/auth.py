"""Bearer-token authentication, the per-token rate limit and the read-only check, done once per request."""

import logging
import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from api.models import ApiToken, token_hash

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# last_used_at is written at most once a minute per token: a busy script must not write a row per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiProblem(Exception):
    """An error answered as a problem details document (RFC 9457); see api/problems.py."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.errors = errors
        self.headers = headers or {}


def rate_limit_take(*, token_id: int) -> int | None:
    """Count a request of the token; None if allowed, else the seconds until the window ends (for Retry-After).

    A fixed window per token in the shared cache, like the project's other limits (users/services.py): the
    window's start is part of the key, so every process counts in one place and a moved clock starts afresh.
    """
    limit, window = settings.API_RATE_LIMIT, settings.API_RATE_WINDOW
    if not limit:
        return None
    now = timezone.now().timestamp()
    slot = int(now // window)
    key = f"api:rate:{token_id}:{slot}"
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add() and incr()
        cache.set(key, 1, timeout=window)
        count = 1
    if count <= limit:
        return None
    return max(1, math.ceil((slot + 1) * window - now))


def _last_used_touch(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional, so concurrent requests write it once.
        ApiToken.objects.filter(pk=token.pk, last_used_at=token.last_used_at).update(last_used_at=now)
        token.last_used_at = now


def token_lookup(raw: str) -> ApiToken | None:
    """The live token with this secret whose owner may use the service, or None."""
    raw = raw.strip()
    if not raw or len(raw) > 200:
        return None
    found = ApiToken.objects.select_related("owner").filter(token_hash=token_hash(raw), revoked_at__isnull=True).first()
    # Checked on every request, not cached: blocking an account must cut its scripts off at once.
    if found is None or not found.owner.is_active or found.owner.blocked_at is not None:
        return None
    return found


def token_find(authorization: str) -> ApiToken | None:
    """The token of an `Authorization: Bearer <token>` header value, as token_lookup."""
    scheme, _sep, raw = authorization.partition(" ")
    return token_lookup(raw) if scheme.lower() == "bearer" else None


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`: the owner must be active (a blocked user's tokens stop at once)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = token_lookup(token)
        if found is None:
            return None
        wait = rate_limit_take(token_id=found.pk)
        if wait is not None:
            logger.info("api rate limit: token=%s", found.pk)
            raise ApiProblem(
                429,
                _("Слишком много запросов"),
                _("Превышен лимит запросов для этого токена. Повторите через %(seconds)s с.") % {"seconds": wait},
                headers={"Retry-After": str(wait)},
            )
        if request.method not in SAFE_METHODS and not found.may_write:
            raise ApiProblem(403, _("Доступ запрещён"), _("Токен только для чтения: изменять данные им нельзя."))
        _last_used_touch(found)
        # The views read request.user, like the web's.
        request.user = found.owner
        return found


def request_token(request: HttpRequest) -> ApiToken:
    token: Any = getattr(request, "auth", None)
    assert isinstance(token, ApiToken)
    return token
