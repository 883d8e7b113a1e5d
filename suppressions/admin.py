from django.contrib import admin
from django.http import HttpRequest

from suppressions.models import Suppression, SuppressionLift


class _ReadOnly(admin.ModelAdmin):
    """Read-only: entries are added by `suppression_add` and lifted only with a stated consent (the owner's page)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Suppression)
class SuppressionAdmin(_ReadOnly):
    list_display = ["email", "owner", "source", "reason", "created_at"]
    list_filter = ["source"]
    list_select_related = ["owner"]
    search_fields = ["email_key", "owner__email", "reason"]


@admin.register(SuppressionLift)
class SuppressionLiftAdmin(_ReadOnly):
    list_display = ["email", "owner", "how", "suppressed_source", "lifted_at", "lifted_by"]
    list_filter = ["how"]
    list_select_related = ["owner", "lifted_by"]
    search_fields = ["email", "owner__email", "statement"]
