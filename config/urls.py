from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.static import serve

from api.api import api
from core.health import health

urlpatterns = [
    path("health/", health, name="health"),
    # Browsers ask for /favicon.ico where a page names no icon (a JSON answer, an image): no 404 for it.
    path("favicon.ico", lambda request: redirect(static("img/favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("users.urls")),
    path("blog/", include("blog.urls")),
    path("api/v1/", api.urls),
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
