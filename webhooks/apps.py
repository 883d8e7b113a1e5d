from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Owners' webhook endpoints: events signed as Standard Webhooks, sent by the worker with retries."""

    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"
