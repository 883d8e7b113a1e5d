from django.contrib import admin

from webhooks.models import WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Read-only: endpoints are the owner's (their page); the secret is never shown here."""

    list_display = ["url", "owner", "is_enabled", "consecutive_failures", "created_at"]
    list_select_related = ["owner"]
    list_filter = ["is_enabled"]
    search_fields = ["url", "description", "owner__email"]
    exclude = ["secret"]
    readonly_fields = [
        "owner",
        "url",
        "description",
        "events",
        "is_enabled",
        "disabled_automatically_at",
        "consecutive_failures",
    ]
