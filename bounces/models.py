from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class BounceMailbox(models.Model):
    """The IMAP mailbox where an owner's bounce reports and complaints arrive (one per owner).

    The row without an owner is the service's shared mailbox (BOUNCE_SERVICE_IMAP_*, kept in step with the
    settings by `polling.service_mailbox_sync`): its reports say whose they are by our Message-ID.

    The password is stored only encrypted, like an SMTP account's (senders/crypto.py). Polling remembers the
    last UID it saw under the folder's UIDVALIDITY, and flags what it processed with `PROCESSED_KEYWORD`.
    """

    PROCESSED_KEYWORD = "$VestnikProcessed"

    class Security(models.TextChoices):
        SSL = "ssl", _("SSL/TLS сразу (обычно порт 993)")
        STARTTLS = "starttls", _("STARTTLS (обычно порт 143)")
        NONE = "none", _("Без шифрования (не рекомендуется)")

    class CheckStatus(models.TextChoices):
        NEVER = "", _("не проверялся")
        CHECKING = "checking", _("проверяется…")
        OK = "ok", _("соединение и вход успешны")
        FAILED = "failed", _("ошибка")

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("владелец"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="bounce_mailbox",
    )
    host = models.CharField(_("сервер IMAP"), max_length=255)
    port = models.PositiveIntegerField(
        _("порт"), default=993, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    security = models.CharField(_("защита соединения"), max_length=16, choices=Security.choices, default=Security.SSL)
    login = models.CharField(_("логин"), max_length=255)
    # Fernet token (senders/crypto.py); the clear password is never stored, shown or logged.
    password_encrypted = models.TextField(_("пароль (зашифрован)"), blank=True, editable=False)
    folder = models.CharField(_("папка"), max_length=255, default="INBOX")
    is_enabled = models.BooleanField(_("проверять ящик"), default=True)
    uidvalidity = models.BigIntegerField(_("UIDVALIDITY папки"), null=True, blank=True)
    last_uid = models.BigIntegerField(_("последний прочитанный UID"), default=0)
    polled_at = models.DateTimeField(_("последняя проверка ящика"), null=True, blank=True)
    poll_requested_at = models.DateTimeField(_("проверка запрошена"), null=True, blank=True)
    last_error = models.TextField(_("последняя ошибка"), blank=True)
    check_status = models.CharField(
        _("проверка соединения"), max_length=16, choices=CheckStatus.choices, default=CheckStatus.NEVER, blank=True
    )
    checked_at = models.DateTimeField(_("проверен"), null=True, blank=True)
    processed_count = models.PositiveIntegerField(_("обработано отчётов"), default=0)
    unrecognised_count = models.PositiveIntegerField(_("нераспознанных писем"), default=0)
    created_at = models.DateTimeField(_("создан"), auto_now_add=True)
    updated_at = models.DateTimeField(_("изменён"), auto_now=True)

    class Meta:
        verbose_name = _("ящик для возвратов")
        verbose_name_plural = _("ящики для возвратов")
        permissions = [("view_all_bounce_mailboxes", _("Может просматривать ящики для возвратов всех пользователей"))]
        constraints = [
            models.CheckConstraint(condition=Q(port__gte=1, port__lte=65535), name="bouncemailbox_port_range"),
            # At most one service mailbox (the ownerless row): a unique index on a constant over those rows.
            models.UniqueConstraint(
                models.Value(1), condition=Q(owner__isnull=True), name="bouncemailbox_one_service_mailbox"
            ),
        ]
        indexes = [
            # Scheduler: the enabled mailboxes whose poll is due.
            models.Index(fields=["is_enabled", "polled_at"], name="bouncemailbox_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.login}@{self.host}:{self.port}/{self.folder}"

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)


class Bounce(models.Model):
    """One recipient's bounce or complaint, as a report told it: the ledger's record of what came back."""

    class Kind(models.TextChoices):
        HARD = "hard", _("постоянный возврат")
        SOFT = "soft", _("временный возврат")
        COMPLAINT = "complaint", _("жалоба на спам")

    class Source(models.TextChoices):
        IMAP = "imap", _("ящик IMAP")
        STDIN = "stdin", _("почтовый сервер (stdin)")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("владелец"), on_delete=models.CASCADE, related_name="bounces"
    )
    delivery = models.ForeignKey(
        "mailings.Delivery",
        verbose_name=_("доставка"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bounces",
    )
    email = models.CharField(_("адрес"), max_length=320)
    kind = models.CharField(_("вид"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("статус (RFC 3463)"), max_length=16, blank=True)
    diagnostic = models.TextField(_("диагностика сервера"), blank=True)
    reporter = models.CharField(_("кто сообщил"), max_length=255, blank=True)
    source = models.CharField(_("откуда"), max_length=16, choices=Source.choices)
    # sha256 of the report's bytes: the same report read twice (a poll that died before flagging it) is one row.
    report_digest = models.CharField(_("отпечаток отчёта"), max_length=64)
    received_at = models.DateTimeField(_("получен"), auto_now_add=True)

    class Meta:
        verbose_name = _("возврат")
        verbose_name_plural = _("возвраты")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["report_digest", "email"], name="bounce_once_per_report_and_address"),
        ]
        indexes = [
            # Soft-bounce counting (services.bounce_record): an owner's bounces of one address.
            models.Index(fields=["owner", "email", "kind"], name="bounce_owner_email_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.get_kind_display()}"
