"""`manage.py check --deploy`: the unsubscribe links must reach the site from a recipient's mail client."""

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Warning as CheckWarning


def site_url_check(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckWarning]:
    parts = urlsplit(settings.SITE_URL)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host not in ("localhost", "127.0.0.1", "::1") and "." in host:
        return []
    return [
        CheckWarning(
            f"SITE_URL is {settings.SITE_URL!r}: the unsubscribe links in mailing messages would not work for "
            "recipients, and Gmail and Yahoo honour one-click unsubscribe only over https.",
            hint="Set SITE_URL to the site's public https address, e.g. https://mail.example.com.",
            id="suppressions.W001",
        )
    ]
