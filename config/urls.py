from typing import Any

from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.urls.resolvers import RoutePattern
from django.utils.functional import cached_property
from django.views.static import serve

from core.health import health


class _ApiUrls:
    """The API's URL patterns, built by django-ninja when first read."""

    @cached_property
    def urlpatterns(self) -> list[URLPattern | URLResolver]:
        from api.api import api

        patterns, _app_name, _namespace = api.urls
        return list(patterns)


class LazyNamespaceResolver(URLResolver):
    """A namespaced include whose patterns are read only when a URL under it is resolved or reversed.

    Django's `reverse` populates every include, even one in another namespace, so a worker building a link to the
    unsubscribe page would import django-ninja, pydantic and the API's schemas: about 17 MB in each worker, which
    never serves the API. Populating the parent needs nothing of a namespaced include but its app name and namespace,
    so its own population waits until one of its URLs is wanted. (Django 5.2's resolver; tests check both sides.)
    """

    _wanted = False

    def _populate(self) -> None:
        if self._wanted:
            super()._populate()

    def _want(self) -> None:
        self._wanted = True

    @property
    def reverse_dict(self) -> Any:
        self._want()
        return super().reverse_dict

    @property
    def namespace_dict(self) -> Any:
        self._want()
        return super().namespace_dict

    @property
    def app_dict(self) -> Any:
        self._want()
        return super().app_dict

    def _is_callback(self, name: str) -> bool:
        self._want()
        return bool(super()._is_callback(name))


# django-ninja's app name and namespace for this API (`api.urls`; a test checks they match).
API_APP_NAME, API_NAMESPACE = "ninja", "api-v1"

urlpatterns = [
    path("health/", health, name="health"),
    # Browsers ask for /favicon.ico where a page names no icon (a JSON answer, an image): no 404 for it.
    path("favicon.ico", lambda request: redirect(static("img/favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("users.urls")),
    path("blog/", include("blog.urls")),
    LazyNamespaceResolver(
        RoutePattern("api/v1/", is_endpoint=False),
        _ApiUrls(),  # type: ignore[arg-type]  # the resolver reads `urlpatterns` of any object, as of a module
        app_name=API_APP_NAME,
        namespace=API_NAMESPACE,
    ),
    path("accounts/api-tokens/", include("api.urls")),
    path("senders/", include("senders.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("bounces/", include("bounces.urls")),
    path("", include("audience.urls")),
    path("", include("consents.urls")),
    path("", include("suppressions.urls")),
    path("", include("mailings.urls")),
]

if settings.SERVE_MEDIA:
    # `static()` serves nothing with DEBUG off, and `make run` runs with DEBUG off.
    urlpatterns.append(
        re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})
    )
