from django.contrib import admin
from django.http import HttpRequest

from senders.models import SmtpAccount


@admin.register(SmtpAccount)
class SmtpAccountAdmin(admin.ModelAdmin):
    """Read-only: the password is set (encrypted) only through the owner's form, and disabling goes through the
    account page (moderation.services.smtp_account_disable), which writes the managers' journal."""

    list_display = ["name", "owner", "from_email", "host", "port", "is_enabled", "check_status"]
    list_select_related = ["owner"]
    list_filter = ["is_enabled", "security", "check_status"]
    search_fields = ["name", "from_email", "host", "owner__email"]
    # Never the encrypted password, not even as a token.
    exclude = ["password_encrypted"]
    readonly_fields = [
        "owner",
        "name",
        "host",
        "port",
        "security",
        "login",
        "from_email",
        "from_name",
        "reply_to",
        "limit_per_second",
        "limit_per_hour",
        "limit_per_day",
        "is_enabled",
        "disabled_at",
        "disabled_by",
        "disabled_reason",
        "check_status",
        "check_requested_at",
        "checked_at",
        "check_code",
        "check_reply",
        "check_reason",
        "check_reason_params",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SmtpAccount | None = None) -> bool:
        return False
