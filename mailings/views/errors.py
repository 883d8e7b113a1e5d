"""The site's own page for a refused form (CSRF), in the site's layout and the reader's language."""

import logging

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.shortcuts import render

logger = logging.getLogger(__name__)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: say why the form was refused and lead back to it with what was typed.

    The browser keeps a form's fields when going back in history; static/js/vestnik.js then puts the
    current token (from the cookie this response sets) into the form, so sending it again works.
    """
    context = {"cookies_missing": reason == REASON_NO_CSRF_COOKIE}
    return render(request, "csrf_failure.html", context, status=403)
