from typing import ClassVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from users.validators import validate_avatar, validate_phone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields: object) -> "User":
        if not email:
            raise ValueError("The email must be set")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields: object) -> "User":
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields: object) -> "User":
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username)


class User(AbstractUser):
    """A Vestnik account; signs in by email.

    `is_active=False` means "not allowed in": either the address is not yet
    confirmed (`email_confirmed_at` is empty) or a manager blocked the account
    (`blocked_at` is set).
    """

    username = None  # type: ignore[assignment]  # login by email: AbstractUser's username field removed
    email = models.EmailField(_("email"), unique=True)
    avatar = models.ImageField(_("аватар"), upload_to="avatars/%Y/%m/", blank=True, validators=[validate_avatar])
    phone = models.CharField(_("телефон"), max_length=32, blank=True, validators=[validate_phone])
    country = CountryField(_("страна"), blank=True)
    email_confirmed_at = models.DateTimeField(_("email подтверждён"), null=True, blank=True)
    blocked_at = models.DateTimeField(_("заблокирован"), null=True, blank=True)
    blocked_by = models.ForeignKey(
        "self",
        verbose_name=_("кем заблокирован"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    block_reason = models.TextField(_("причина блокировки"), blank=True)
    # The owner's mailings show this name in From; the address stays the SMTP account's (SPF/DKIM alignment).
    sender_name = models.CharField(_("имя отправителя"), max_length=100, blank=True)
    reply_to = models.EmailField(_("адрес для ответов"), blank=True)
    # The owner's wall clock: the calendar and send windows of their mailings, and the pages they see.
    # Empty: the service's TIME_ZONE (so changing the setting moves everyone who never chose).
    time_zone = models.CharField(_("часовой пояс"), max_length=64, blank=True)
    # The send window new mailings start with (Mailing.send_window_*; mailings/delivery/windows.py).
    send_window_start = models.TimeField(_("отправлять с"), null=True, blank=True)
    send_window_end = models.TimeField(_("отправлять до"), null=True, blank=True)
    send_window_days = models.CharField(_("дни отправки"), max_length=7, default="1234567")

    # The language of the emails the service writes to the user by itself (the finish report, notices);
    # pages follow the language chosen in the menu.
    language = models.CharField(_("язык писем"), max_length=8, choices=settings.LANGUAGES, default="ru")
    finish_report = models.BooleanField(
        _("отчёт о рассылке"),
        default=True,
        help_text=_("Письмо с итогами после каждой попытки рассылки."),
    )

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # Not AbstractUser's manager: this one's create_user takes an email, no username.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("пользователь")
        verbose_name_plural = _("пользователи")
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]
        permissions = [
            ("view_all_users", _("Может просматривать список пользователей")),
            ("block_user", _("Может блокировать пользователей")),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_blocked(self) -> bool:
        return self.blocked_at is not None

    @property
    def zone_name(self) -> str:
        return self.time_zone or settings.TIME_ZONE

    @property
    def zone(self) -> ZoneInfo:
        """The owner's time zone (a name no longer known to the system falls back to the service's)."""
        try:
            return ZoneInfo(self.zone_name)
        except (ValueError, KeyError):
            return ZoneInfo(settings.TIME_ZONE)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email

    @property
    def state(self) -> str:
        """One of the `UserState` values: what a manager sees in the users list."""
        if self.is_blocked:
            return UserState.BLOCKED
        if self.email_confirmed_at is None:
            return UserState.UNCONFIRMED
        if not self.is_active:
            return UserState.INACTIVE
        return UserState.ACTIVE


class UserState(models.TextChoices):
    ACTIVE = "active", _("Активен")
    UNCONFIRMED = "unconfirmed", _("Не подтверждён")
    BLOCKED = "blocked", _("Заблокирован")
    INACTIVE = "inactive", _("Отключён")


class AuditEvent(models.Model):
    """Журнал действий менеджеров: who did what to whom, when and why. Written by the services only."""

    class Action(models.TextChoices):
        USER_BLOCKED = "user_blocked", _("Пользователь заблокирован")
        USER_UNBLOCKED = "user_unblocked", _("Пользователь разблокирован")
        MAILING_DISABLED = "mailing_disabled", _("Рассылка отключена")
        MAILING_ENABLED = "mailing_enabled", _("Рассылка включена")
        SMTP_ACCOUNT_DISABLED = "smtp_account_disabled", _("Учётная запись SMTP отключена")
        SMTP_ACCOUNT_ENABLED = "smtp_account_enabled", _("Учётная запись SMTP включена")

    class TargetType(models.TextChoices):
        USER = "user", _("пользователь")
        MAILING = "mailing", _("рассылка")
        SMTP_ACCOUNT = "smtp_account", _("учётная запись SMTP")

    actor = models.ForeignKey(
        User, verbose_name=_("кто"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Snapshots: the log must still read right after the actor, the user or the mailing is deleted.
    actor_email = models.EmailField(_("email того, кто"), blank=True)
    action = models.CharField(_("действие"), max_length=32, choices=Action.choices)
    target_type = models.CharField(_("тип объекта"), max_length=16, choices=TargetType.choices)
    target_id = models.PositiveBigIntegerField(_("id объекта"))
    target_repr = models.CharField(_("объект"), max_length=255)
    target_user = models.ForeignKey(
        User,
        verbose_name=_("чей объект"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Заблокированный пользователь или владелец рассылки (учётной записи SMTP)."),
    )
    reason = models.TextField(_("причина"), blank=True)
    created_at = models.DateTimeField(_("когда"), default=timezone.now)

    class Meta:
        verbose_name = _("событие журнала")
        verbose_name_plural = _("журнал действий менеджеров")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The managers' journal page: newest first, paginated.
            models.Index(fields=["-created_at", "-id"], name="auditevent_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email} {self.action} {self.target_repr}"
