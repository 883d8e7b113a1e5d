import logging

from django.contrib import admin

from audience.models import Import, List
from mailings.admin import BumpsDataVersion

logger = logging.getLogger(__name__)


@admin.register(List)
class ListAdmin(BumpsDataVersion):
    list_display = ["name", "owner", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__email"]
    # A list may have 100,000 members: never a select of them.
    raw_id_fields = ["owner", "members"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Import)
class ImportAdmin(admin.ModelAdmin):
    """The record of imports, read-only: an import changes recipients only through its task."""

    list_display = ["file_name", "owner", "status", "created_at", "created_count", "invalid_count", "duplicate_count"]
    list_filter = ["status", "file_format"]
    list_select_related = ["owner"]
    search_fields = ["file_name", "owner__email"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
