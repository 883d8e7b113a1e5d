from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from mailings.delivery.reasons import reason_text

# What a shop owner can do about a failed check, by the reason's code (mailings/delivery/reasons.py).
CHECK_ADVICE = {
    "auth_failed": _("Неверный логин или пароль. Нужен пароль приложения из настроек ящика, а не обычный пароль."),
    "refused_at_login": _("Сервер не принял вход: проверьте логин, пароль приложения и что SMTP включён в ящике."),
    "login_error": _("Сервер не принял вход: проверьте логин и пароль приложения."),
    "lost_at_login": _("Сервер оборвал соединение при входе: проверьте защиту соединения и порт."),
    "tls_error": _(
        "Не удалось установить защищённое соединение или сервер требует его для входа: для порта 465 выберите "
        "«SSL/TLS сразу», для порта 587 — STARTTLS."
    ),
    "connection_refused": _("Порт закрыт: проверьте адрес сервера и порт (обычно 465 или 587)."),
    "connection_error": _("Сервер не найден или недоступен: проверьте адрес сервера."),
    "connection_timeout": _("Сервер не отвечает: проверьте адрес и порт; порт может быть закрыт сетью."),
    "connect_timeout": _("Сервер не отвечает: проверьте адрес и порт; порт может быть закрыт сетью."),
    "no_greeting": _("Сервер не поздоровался: возможно, для этого порта нужна защита «SSL/TLS сразу»."),
    "lost_before_greeting": _("Сервер оборвал соединение: возможно, для этого порта нужна защита «SSL/TLS сразу»."),
    "refused_at_connect": _("Сервер отказал в соединении: попробуйте позже или уточните настройки у почтовой службы."),
    "password_undecryptable": _("Введите пароль приложения заново на странице изменения учётной записи."),
}


class SmtpAccount(models.Model):
    """An owner's own mailbox to send mailings through: server, login, From and the mailbox's own limits.

    The password is stored only encrypted (`senders/crypto.py`) and is never shown again. The engine keys
    the breaker and the counters by `breaker_key` (SmtpAccountState), so one owner's broken or exhausted
    mailbox pauses only the mailings that send through it.
    """

    class Security(models.TextChoices):
        STARTTLS = "starttls", _("STARTTLS (обычно порт 587)")
        SSL = "ssl", _("SSL/TLS сразу (обычно порт 465)")
        NONE = "none", _("Без шифрования (не рекомендуется)")

    class CheckStatus(models.TextChoices):
        NEVER = "", _("не проверялась")
        CHECKING = "checking", _("проверяется…")
        OK = "ok", _("соединение и вход успешны")
        FAILED = "failed", _("ошибка")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("владелец"), on_delete=models.CASCADE, related_name="smtp_accounts"
    )
    name = models.CharField(_("название"), max_length=100)
    host = models.CharField(_("сервер SMTP"), max_length=255)
    port = models.PositiveIntegerField(
        _("порт"), default=465, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    security = models.CharField(_("защита соединения"), max_length=16, choices=Security.choices, default=Security.SSL)
    login = models.CharField(_("логин"), max_length=255, blank=True)
    # Fernet token (senders/crypto.py); the clear password is never stored, shown or logged.
    password_encrypted = models.TextField(_("пароль (зашифрован)"), blank=True, editable=False)
    from_email = models.EmailField(_("адрес отправителя (From)"))
    from_name = models.CharField(_("имя отправителя"), max_length=255, blank=True)
    reply_to = models.EmailField(_("адрес для ответов (Reply-To)"), blank=True)
    limit_per_second = models.FloatField(_("писем в секунду"), default=0, validators=[MinValueValidator(0)])
    limit_per_hour = models.PositiveIntegerField(_("писем в час"), default=0)
    limit_per_day = models.PositiveIntegerField(_("писем в сутки"), default=0)
    is_enabled = models.BooleanField(_("включена"), default=True)
    disabled_at = models.DateTimeField(_("отключена"), null=True, blank=True)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("кем отключена"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    disabled_reason = models.TextField(_("причина отключения"), blank=True)
    check_status = models.CharField(
        _("проверка соединения"), max_length=16, choices=CheckStatus.choices, default=CheckStatus.NEVER, blank=True
    )
    check_requested_at = models.DateTimeField(_("проверка запрошена"), null=True, blank=True)
    checked_at = models.DateTimeField(_("проверена"), null=True, blank=True)
    check_code = models.PositiveSmallIntegerField(_("код ответа при проверке"), null=True, blank=True)
    check_reply = models.TextField(_("ответ сервера при проверке"), blank=True)
    # A code from mailings/delivery/reasons.py and its parameters (check_reason_text).
    check_reason = models.CharField(_("итог проверки"), max_length=64, blank=True)
    check_reason_params = models.JSONField(_("параметры итога проверки"), null=True, blank=True)
    created_at = models.DateTimeField(_("создана"), auto_now_add=True)
    updated_at = models.DateTimeField(_("изменена"), auto_now=True)

    class Meta:
        verbose_name = _("учётная запись SMTP")
        verbose_name_plural = _("учётные записи SMTP")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                "owner",
                "name",
                name="smtpaccount_name_unique_per_owner",
                violation_error_message=_("У вас уже есть учётная запись с таким названием."),
            ),
            models.CheckConstraint(condition=Q(port__gte=1, port__lte=65535), name="smtpaccount_port_range"),
            models.CheckConstraint(condition=Q(limit_per_second__gte=0), name="smtpaccount_rate_not_negative"),
        ]
        permissions = [
            ("view_all_smtp_accounts", _("Может просматривать учётные записи SMTP всех пользователей")),
            ("disable_smtp_account", _("Может отключать учётные записи SMTP")),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.from_email}>"

    @property
    def breaker_key(self) -> str:
        """The key of its SmtpAccountState row (breaker and counters); never the login or password."""
        return f"acct:{self.pk}"

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    @property
    def check_reason_text(self) -> str:
        return reason_text(self.check_reason, self.check_reason_params)

    @property
    def check_advice(self) -> str:
        advice = CHECK_ADVICE.get(self.check_reason)
        return str(advice) if advice is not None else ""
