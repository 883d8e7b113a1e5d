from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Parts every app uses: page-cache versions and ETags, health, logs, middleware, form helpers."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
