"""System checks: say how SMTP account passwords are protected (senders/crypto.py)."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register()
def smtp_password_key_derived_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.SMTP_PASSWORD_KEYS or not settings.SMTP_PASSWORD_KEY_DERIVED:
        return []
    return [
        Warning(
            "SMTP_PASSWORD_KEY is not set: SMTP account passwords use a development key derived from SECRET_KEY.",
            hint="Set SMTP_PASSWORD_KEY before production (see .env.example).",
            id="senders.W001",
        )
    ]


@register(deploy=True)
def smtp_password_key_missing_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.SMTP_PASSWORD_KEYS or settings.SMTP_PASSWORD_KEY_DERIVED:
        return []
    return [
        Warning(
            "SMTP_PASSWORD_KEY is not set: owners cannot save the passwords of their SMTP accounts.",
            hint="Set SMTP_PASSWORD_KEY (see .env.example).",
            id="senders.W002",
        )
    ]
