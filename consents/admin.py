import logging

from django.contrib import admin
from django.http import HttpRequest

from consents.models import ConsentRecord, ConsentWording, SubscribeForm

logger = logging.getLogger(__name__)


class _ReadOnly(admin.ModelAdmin):
    """Evidence: the admin shows it and never changes it (an edit of a wording is a new version, on the page)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ConsentWording)
class ConsentWordingAdmin(_ReadOnly):
    list_display = ["owner", "kind", "version", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["owner"]
    search_fields = ["owner__email"]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(_ReadOnly):
    list_display = ["email", "owner", "kind", "method", "created_at"]
    list_filter = ["kind", "method"]
    list_select_related = ["owner"]
    search_fields = ["email", "owner__email"]


@admin.register(SubscribeForm)
class SubscribeFormAdmin(_ReadOnly):
    list_display = ["recipient_list", "enabled", "created_at"]
    list_select_related = ["recipient_list"]
