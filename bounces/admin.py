from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from bounces.models import Bounce, BounceMailbox


class _ReadOnly(admin.ModelAdmin):
    """Read-only: mailboxes change through the owner's form (the password encrypted there), bounces only through
    bounces.services.bounce_record, which also moves the delivery's flag, the attempt's counts and the suppression."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BounceMailbox)
class BounceMailboxAdmin(_ReadOnly):
    list_display = ["owner", "login", "host", "port", "folder", "is_enabled", "check_status", "polled_at"]
    list_select_related = ["owner"]
    list_filter = ["is_enabled", "security", "check_status"]
    search_fields = ["login", "host", "owner__email"]
    # Never the encrypted password, not even as a token.
    exclude = ["password_encrypted"]


@admin.register(Bounce)
class BounceAdmin(_ReadOnly):
    list_display = ["received_at", "owner", "email", "kind", "status", "source"]
    list_select_related = ["owner"]
    list_filter = ["kind", "source"]
    search_fields = ["email", "owner__email", "diagnostic"]
    raw_id_fields = ["delivery"]
