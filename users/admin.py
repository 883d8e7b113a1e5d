from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.data_versions import data_version_bump_everyone
from users.models import AuditEvent, User

if TYPE_CHECKING:
    # A type alias of django-stubs (str or a lazy translation), not needed at run time.
    from django_stubs_ext import StrOrPromise


class UserCreationForm(auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)
        field_classes: dict[str, type] = {}


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes: dict[str, type] = {}


class ConfirmedFilter(admin.SimpleListFilter):
    title = _("адрес подтверждён")
    parameter_name = "confirmed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, "StrOrPromise"]]:
        return [("yes", _("Да")), ("no", _("Нет"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() == "yes":
            return queryset.filter(email_confirmed_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(email_confirmed_at__isnull=True)
        return queryset


class BlockedFilter(admin.SimpleListFilter):
    title = _("заблокирован")
    parameter_name = "blocked"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, "StrOrPromise"]]:
        return [("yes", _("Да")), ("no", _("Нет"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() == "yes":
            return queryset.filter(blocked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(blocked_at__isnull=True)
        return queryset


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("email", "full_name", "is_active", "confirmed", "blocked", "is_staff", "date_joined")
    list_filter = (ConfirmedFilter, BlockedFilter, "is_active", "is_staff", "is_superuser", "groups", "country")
    search_fields = ("email", "first_name", "last_name", "phone")
    ordering = ("email",)
    # Blocking goes through the Users page (moderation.services.user_block), which writes the audit log.
    readonly_fields = ("last_login", "date_joined", "blocked_at", "blocked_by", "block_reason")
    list_select_related = ()
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Профиль"), {"fields": ("first_name", "last_name", "phone", "country", "avatar", "time_zone")}),
        (_("Состояние"), {"fields": ("is_active", "email_confirmed_at", "blocked_at", "blocked_by", "block_reason")}),
        (_("Права"), {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Даты"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Pages show people by name; the pages' cached copies follow (core/data_versions.py).
        if change:
            data_version_bump_everyone()

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        super().delete_model(request, obj)
        # Managers' cached lists showed the deleted user's rows.
        data_version_bump_everyone()

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        super().delete_queryset(request, queryset)
        data_version_bump_everyone()

    @admin.display(description=_("имя"), ordering="last_name")
    def full_name(self, user: User) -> str:
        return user.get_full_name()

    @admin.display(description=_("подтверждён"), boolean=True, ordering="email_confirmed_at")
    def confirmed(self, user: User) -> bool:
        return user.email_confirmed_at is not None

    @admin.display(description=_("заблокирован"), boolean=True, ordering="blocked_at")
    def blocked(self, user: User) -> bool:
        return user.is_blocked


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the journal is written by the services, in the transaction of the change it records."""

    list_display = ("created_at", "actor_email", "action", "target_repr", "reason")
    list_filter = ("action", "target_type")
    search_fields = ("actor_email", "target_repr", "reason")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
