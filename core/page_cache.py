"""Signed-in pages cached in the browser (ETag, 304) and on the server (the rendered page), never shared.

`private_page` wraps a GET view of a signed-in user. Its validator is computed before the view runs and
costs no query of the page's data: the data version of what the user sees (core/data_versions.py), the user
(id, name, permissions), the language, the page's address, the CSRF secret the page's forms carry and
the code's build (`build_id`). The same value keys the server's copy of the rendered page, so a page is only ever
served to the request it was rendered for, or to an identical one after nothing it shows has changed.

Skipped (rendered as usual, no ETag): a request without the CSRF cookie (the page would set a new one),
one with a flash message waiting (the page shows it once), a page the view calls uncacheable (a run in
progress: its notice depends on the clock and the SMTP breaker), and everything while the cache is away.
"""

import hashlib
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.response import SimpleTemplateResponse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.timezone import get_current_timezone_name
from django.utils.translation import get_language

from core.data_versions import CACHE_DATA_TIMEOUT, build_id, data_version_with
from users.models import User

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]
Cacheable = Callable[..., bool]


@lru_cache(maxsize=1)
def _permissions_sql() -> str:
    user_perms = User._meta.get_field("user_permissions")
    user_groups = User._meta.get_field("groups")
    group_perms = Group._meta.get_field("permissions")
    q = connection.ops.quote_name
    return (
        f"SELECT ct.{q('app_label')}, p.{q('codename')} FROM {q(Permission._meta.db_table)} p "
        f"JOIN {q(ContentType._meta.db_table)} ct ON ct.{q('id')} = p.{q('content_type_id')} "
        f"WHERE p.{q('id')} IN (SELECT {q(user_perms.m2m_reverse_name())} FROM {q(user_perms.m2m_db_table())} "
        f"WHERE {q(user_perms.m2m_column_name())} = %s) "
        f"OR p.{q('id')} IN (SELECT gp.{q(group_perms.m2m_reverse_name())} FROM {q(group_perms.m2m_db_table())} gp "
        f"JOIN {q(user_groups.m2m_db_table())} ug ON ug.{q(user_groups.m2m_reverse_name())} = "
        f"gp.{q(group_perms.m2m_column_name())} WHERE ug.{q(user_groups.m2m_column_name())} = %s)"
    )


def user_permission_names(user: User) -> frozenset[str]:
    """The user's permissions as ModelBackend names them ("app.codename"), direct and through groups.

    One query instead of ModelBackend's two: it runs on every cached page, where it is most of the cost.
    """
    with connection.cursor() as cursor:
        cursor.execute(_permissions_sql(), [user.pk, user.pk])
        return frozenset(f"{app_label}.{codename}" for app_label, codename in cursor.fetchall())


def _user_fingerprint(user: User, permissions: frozenset[str]) -> str:
    # The navigation and the buttons depend on the permissions; the menu shows the name.
    perms = ",".join(sorted(permissions))
    return f"{user.pk}|{user.email}|{user.get_full_name()}|{user.is_superuser}|{user.is_staff}|{perms}"


@dataclass(frozen=True)
class Validator:
    etag: str
    slot: str  # the cache key of this page's server copy
    stored: Any  # what the slot holds: (etag, content type, compressed content), or None


def page_validator(request: HttpRequest, *, extra: str = "", read_copy: bool = True) -> Validator | None:
    """The page's validator (a quoted ETag) and its server copy, or None when the page must not be cached.

    `extra` names whatever else the page shows (see private_page's `vary_on`). One round trip to the cache
    reads the data versions and, with `read_copy`, the page's server copy. The copy lives in one slot per
    user, address, language and CSRF secret, and is served only if its ETag is the current one: a slot
    holds only the latest rendering, older versions of a page are overwritten rather than piled up.
    """
    if request.method not in ("GET", "HEAD") or not request.user.is_authenticated:
        return None
    csrf_secret = request.META.get("CSRF_COOKIE")
    if not csrf_secret or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return None
    # len() loads the messages without marking them read: they are still shown by the page.
    if len(get_messages(request)):
        return None
    address = "\n".join(
        [get_language() or "", get_current_timezone_name(), request.get_host(), request.get_full_path(), csrf_secret]
    )
    slot = f"page:{request.user.pk}:{hashlib.sha256(address.encode()).hexdigest()[:40]}"
    permissions = user_permission_names(request.user)
    if request.user.is_active and not request.user.is_superuser:
        # Hand the same set to ModelBackend (its per-user cache, `_perm_cache`), so the view's and the
        # navigation's has_perm() do not read the permissions again with two more queries. A superuser's
        # has_perm() never reads it, and ModelBackend would list every permission for one: left alone.
        request.user._perm_cache = set(permissions)  # type: ignore[attr-defined]
    version, found = data_version_with(user=request.user, permissions=permissions, also=[slot] if read_copy else [])
    if version is None:
        return None
    parts = [version, build_id(), _user_fingerprint(request.user, permissions), address, extra]
    etag = '"' + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40] + '"'
    return Validator(etag=etag, slot=slot, stored=found.get(slot))


def _mark_private(response: HttpResponse, etag: str | None) -> HttpResponse:
    # private: never kept by a shared proxy; no-cache: the browser asks again each time (a cheap 304).
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ("Cookie", "Accept-Language"))
    if etag is not None:
        response.headers["ETag"] = etag
    return response


def private_page(
    cacheable: Cacheable | None = None, *, vary_on: Callable[[HttpRequest], str] | None = None
) -> Callable[[View], View]:
    """Decorate a GET view: for a signed-in user ETag/304 and a server copy of the page; private either way.

    `cacheable(request, *args, **kwargs)`, if given, may say False to render this request as usual
    (still private, without a validator). `vary_on(request)` names what else the page shows that the
    data versions do not cover (the home page's blog articles).
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return _mark_private(view(request, *args, **kwargs), None)
            # A browser that sends a validator mostly gets 304: no need to read the page's copy for it.
            validator = page_validator(
                request,
                extra=vary_on(request) if vary_on is not None else "",
                read_copy="if-none-match" not in request.headers,
            )
            if validator is not None and cacheable is not None and not cacheable(request, *args, **kwargs):
                validator = None
            if validator is None:
                return _mark_private(view(request, *args, **kwargs), None)
            etag = validator.etag
            # The page carries the CSRF secret: renew the cookie as rendering it would.
            get_token(request)
            not_modified = get_conditional_response(request, etag=etag)
            if not_modified is not None:
                return _mark_private(not_modified, etag)
            stored = validator.stored
            if stored is None and "if-none-match" in request.headers:
                try:
                    stored = cache.get(validator.slot)
                except Exception:
                    logger.warning("cache unavailable: page rendered", exc_info=True)
            if stored is not None and stored[0] == etag:
                _etag, content_type, compressed = stored
                return _mark_private(HttpResponse(zlib.decompress(compressed), content_type=content_type), etag)
            response = view(request, *args, **kwargs)
            if response.status_code != 200 or response.streaming or response.cookies:
                return _mark_private(response, None)
            if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
                response.render()
            try:
                # Compressed: pages are mostly markup (a tenth of the size), which the cache stores and sends.
                stored = (etag, response["Content-Type"], zlib.compress(response.content, 1))
                cache.set(validator.slot, stored, CACHE_DATA_TIMEOUT)
            except Exception:
                logger.warning("cache unavailable: page not stored", exc_info=True)
            return _mark_private(response, etag)

        return wrapper

    return decorator
