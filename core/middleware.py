"""Per-request middleware: signed-in pages are private (never kept by a shared cache) and on the user's clock."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers


def private_when_signed_in(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    """Mark a signed-in user's responses `Cache-Control: private, no-cache` unless the view chose a policy.

    A proxy between the browser and the site must never hand one user's page to another, and a browser
    must not show a page from its cache without asking (cheap when the page has an ETag: 304).
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True, no_cache=True)
            patch_vary_headers(response, ("Cookie",))
        return response

    return middleware


def user_time_zone(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    """Show date-times on the signed-in user's own clock (`User.zone`); anonymous visitors see the service's.

    Django converts aware date-times to the current time zone when rendering and reads form input in it.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        zone = getattr(user, "zone", None) if user is not None and user.is_authenticated else None
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return get_response(request)
        finally:
            # A worker thread serves the next request, maybe someone else's, with a clean slate.
            timezone.deactivate()

    return middleware
