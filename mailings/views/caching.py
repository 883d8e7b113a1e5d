"""Signed-in pages cached in the browser (ETag, 304) and on the server (the rendered page), never shared.

`private_page` wraps a GET view of a signed-in user. Its validator is computed before the view runs and
costs no query of the page's data: the data version of what the user sees (mailings/cache.py), the user
(id, name, permissions), the language, the page's address, the CSRF secret the page's forms carry and
the code's build. The same value keys the server's copy of the rendered page, so a page is only ever
served to the request it was rendered for, or to an identical one after nothing it shows has changed.

Skipped (rendered as usual, no ETag): a request without the CSRF cookie (the page would set a new one),
one with a flash message waiting (the page shows it once), a page the view calls uncacheable (a run in
progress: its notice depends on the clock and the SMTP breaker), and everything while the cache is away.
"""

import hashlib
import logging
import os
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.translation import get_language

from mailings.cache import CACHE_DATA_TIMEOUT, data_version
from users.models import User

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]
Cacheable = Callable[..., bool]

# The code that renders a page: templates, translations and Python. A deploy that changes any of them
# changes every validator, so a browser never keeps a page rendered by the old code.
_BUILD_PARTS = ("templates", "locale", "config", "mailings", "users", "blog")


@lru_cache(maxsize=1)
def build_id() -> str:
    """A digest of the names, sizes and times of the files the pages are rendered from (once per process)."""
    digest = hashlib.sha256()
    base = Path(settings.BASE_DIR)
    for part in _BUILD_PARTS:
        for root, dirs, files in os.walk(base / part):
            dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "tests"))
            for name in sorted(files):
                if name.endswith((".py", ".html", ".txt", ".mo")):
                    stat = (Path(root) / name).stat()
                    digest.update(f"{root}/{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


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


def page_etag(request: HttpRequest, *, extra: str = "") -> str | None:
    """The page's validator (a quoted ETag), or None when the page must not be cached at all.

    `extra` names whatever else the page shows (see private_page's `vary_on`).
    """
    if request.method not in ("GET", "HEAD") or not request.user.is_authenticated:
        return None
    csrf_secret = request.META.get("CSRF_COOKIE")
    if not csrf_secret or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return None
    # len() loads the messages without marking them read: they are still shown by the page.
    if len(get_messages(request)):
        return None
    permissions = user_permission_names(request.user)
    version = data_version(user=request.user, permissions=permissions)
    if version is None:
        return None
    parts = [
        version,
        build_id(),
        _user_fingerprint(request.user, permissions),
        get_language() or "",
        request.get_host(),
        request.get_full_path(),
        csrf_secret,
        extra,
    ]
    return '"' + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40] + '"'


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
            etag = page_etag(request, extra=vary_on(request) if vary_on is not None else "")
            if etag is not None and cacheable is not None and not cacheable(request, *args, **kwargs):
                etag = None
            if etag is None:
                return _mark_private(view(request, *args, **kwargs), None)
            # The page carries the CSRF secret: renew the cookie as rendering it would.
            get_token(request)
            not_modified = get_conditional_response(request, etag=etag)
            if not_modified is not None:
                return _mark_private(not_modified, etag)
            key = f"page:{request.user.pk}:{etag.strip(chr(34))}"
            try:
                stored = cache.get(key)
            except Exception:
                logger.warning("cache unavailable: page rendered", exc_info=True)
                stored = None
            if stored is not None:
                content_type, content = stored
                return _mark_private(HttpResponse(content, content_type=content_type), etag)
            response = view(request, *args, **kwargs)
            if response.status_code != 200 or response.streaming or response.cookies:
                return _mark_private(response, None)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            try:
                cache.set(key, (response["Content-Type"], response.content), CACHE_DATA_TIMEOUT)
            except Exception:
                logger.warning("cache unavailable: page not stored", exc_info=True)
            return _mark_private(response, etag)

        return wrapper

    return decorator
