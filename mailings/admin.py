import logging

from django.contrib import admin

from mailings.models import Attempt, Delivery, Mailing, Message, Recipient

logger = logging.getLogger(__name__)


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ["email", "full_name", "owner", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["email", "full_name", "comment", "owner__email"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["subject", "owner", "created_at", "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["subject", "body", "owner__email"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"


@admin.register(Mailing)
class MailingAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "message",
        "owner",
        "status",
        "periodicity",
        "is_enabled",
        "start_at",
        "end_at",
        "next_run_at",
    ]
    list_display_links = ["id", "message"]
    list_filter = ["status", "periodicity", "is_enabled"]
    list_select_related = ["message", "owner"]
    search_fields = ["id", "message__subject", "owner__email"]
    raw_id_fields = ["owner", "message", "recipients", "disabled_by"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "start_at"


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "mailing",
        "trigger",
        "status",
        "started_at",
        "finished_at",
        "total_count",
        "sent_count",
        "failed_count",
        "unknown_count",
        "skipped_count",
    ]
    list_filter = ["status", "trigger"]
    list_select_related = ["mailing__message"]
    search_fields = ["id", "mailing__id", "mailing__message__subject", "mailing__owner__email", "server_response"]
    raw_id_fields = ["mailing", "retry_of"]
    date_hierarchy = "started_at"


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "email", "attempt", "state", "tries", "smtp_code", "reason", "finished_at"]
    list_filter = ["state"]
    list_select_related = ["attempt__mailing__message"]
    search_fields = ["email", "full_name", "smtp_reply", "message_id", "attempt__id"]
    raw_id_fields = ["attempt", "recipient"]
    date_hierarchy = "finished_at"
