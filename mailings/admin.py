import logging
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.data_versions import data_versions_bump
from mailings.delivery.breaker import breaker_close
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient, SmtpAccountState

logger = logging.getLogger(__name__)


class BumpsDataVersion(admin.ModelAdmin):
    """Admin edits bypass the services: bump the owners' data versions so cached pages follow (core.data_versions)."""

    owner_lookup = "owner_id"

    def _owner_ids(self, queryset: QuerySet) -> set[int]:
        return set(queryset.values_list(self.owner_lookup, flat=True))

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        # Before and after: an edit may move the row to another owner.
        before = self._owner_ids(self.model._default_manager.filter(pk=obj.pk)) if change else set()
        super().save_model(request, obj, form, change)
        data_versions_bump(owner_ids=before | self._owner_ids(self.model._default_manager.filter(pk=obj.pk)))

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        owner_ids = self._owner_ids(self.model._default_manager.filter(pk=obj.pk))
        super().delete_model(request, obj)
        data_versions_bump(owner_ids=owner_ids)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        owner_ids = self._owner_ids(queryset)
        super().delete_queryset(request, queryset)
        data_versions_bump(owner_ids=owner_ids)


@admin.register(Recipient)
class RecipientAdmin(BumpsDataVersion):
    list_display = ["email", "full_name", "owner", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["email", "full_name", "comment", "owner__email"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"


@admin.register(Message)
class MessageAdmin(BumpsDataVersion):
    list_display = ["subject", "owner", "created_at", "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["subject", "body", "owner__email"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"


@admin.register(Mailing)
class MailingAdmin(BumpsDataVersion):
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
    raw_id_fields = ["owner", "message", "recipients", "lists", "smtp_account"]
    # Disabling goes through the mailing page (mailings.services.mailing_disable), which writes the audit log.
    readonly_fields = ["created_at", "updated_at", "is_enabled", "disabled_at", "disabled_by", "disabled_reason"]
    date_hierarchy = "start_at"


@admin.register(Attempt)
class AttemptAdmin(BumpsDataVersion):
    owner_lookup = "mailing__owner_id"
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
class DeliveryAdmin(BumpsDataVersion):
    owner_lookup = "attempt__mailing__owner_id"
    list_display = ["id", "email", "attempt", "state", "tries", "smtp_code", "reason", "finished_at"]
    list_filter = ["state"]
    list_select_related = ["attempt__mailing__message"]
    search_fields = ["email", "full_name", "smtp_reply", "message_id", "attempt__id"]
    raw_id_fields = ["attempt", "recipient"]
    date_hierarchy = "finished_at"


@admin.register(SmtpAccountState)
class SmtpAccountStateAdmin(admin.ModelAdmin):
    """The circuit breaker and sending counters per SMTP account; read-only but for closing the breaker."""

    list_display = [
        "account",
        "is_breaker_open",
        "breaker_open_until",
        "breaker_reason_text",
        "hour_count",
        "day_count",
    ]
    readonly_fields = [f.name for f in SmtpAccountState._meta.fields]
    actions = ["close_breaker"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("приостановлено"), boolean=True)
    def is_breaker_open(self, state: SmtpAccountState) -> bool:
        return state.is_breaker_open

    @admin.action(description=_("Возобновить отправку (закрыть предохранитель)"))
    def close_breaker(self, request: HttpRequest, queryset: QuerySet[SmtpAccountState]) -> None:
        now = timezone.now()
        closed = sum(breaker_close(account=state.account, now=now) for state in queryset)
        self.message_user(request, _("Отправка возобновлена для учётных записей: %(n)s.") % {"n": closed})
