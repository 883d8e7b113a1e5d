"""Consent evidence (ARCHITECTURE.md, "Consent and suppression"): the owner's wording, versioned and immutable,
the append-only records of who agreed to what, when and how, and the public subscribe form with double opt-in.

Two kinds, always separate: advertising (38-ФЗ art. 18) and personal data processing (152-ФЗ, which since
1 September 2025 wants its consent as a document of its own).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from audience.models import List
from mailings.models import Recipient


class Kind(models.TextChoices):
    ADVERTISING = "advertising", _("На рекламную рассылку (38-ФЗ)")
    PERSONAL_DATA = "personal_data", _("На обработку персональных данных (152-ФЗ)")


class ConsentWording(models.Model):
    """One version of an owner's consent text of one kind. Never changed: an edit is a new version."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("владелец"), on_delete=models.CASCADE, related_name="consent_wordings"
    )
    kind = models.CharField(_("вид согласия"), max_length=16, choices=Kind.choices)
    version = models.PositiveIntegerField(_("версия"))
    text = models.TextField(_("текст"))
    created_at = models.DateTimeField(_("создана"), auto_now_add=True)

    class Meta:
        verbose_name = _("текст согласия")
        verbose_name_plural = _("тексты согласий")
        ordering = ["owner", "kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "kind", "version"], name="consent_wording_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"


class Method(models.TextChoices):
    FORM = "form", _("Форма подписки")
    IMPORT = "import", _("Импорт")
    MANUAL = "manual", _("Добавлен вручную")
    API = "api", _("API")
    RESTORED = "restored", _("Восстановлено после отписки")


class Source(models.TextChoices):
    """Where an owner says the consents of imported or hand-added addresses were obtained."""

    WEBSITE = "website", _("Форма на сайте")
    PAPER = "paper", _("Бумажная анкета или договор")
    SHOP = "shop", _("В магазине или офисе")
    EVENT = "event", _("Мероприятие")
    OTHER = "other", _("Другое")


class ConsentRecord(models.Model):
    """Append-only evidence that an address gave one kind of consent to one owner.

    Kept by address, not only by recipient: deleting a recipient leaves the evidence (the FK goes null).
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("владелец"), on_delete=models.CASCADE, related_name="consent_records"
    )
    recipient = models.ForeignKey(
        Recipient,
        verbose_name=_("получатель"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent_records",
    )
    email = models.CharField(_("email"), max_length=320)
    email_key = models.CharField(max_length=320)  # lower(email): the recipient page and the export look it up
    kind = models.CharField(_("вид согласия"), max_length=16, choices=Kind.choices)
    method = models.CharField(_("способ"), max_length=16, choices=Method.choices)
    # RESTRICT: a version agreed to is never deleted on its own; only with its owner (and the records with it).
    wording = models.ForeignKey(
        ConsentWording, verbose_name=_("текст согласия"), null=True, blank=True, on_delete=models.RESTRICT
    )
    source = models.CharField(_("источник"), max_length=16, choices=Source.choices, blank=True)
    source_note = models.TextField(_("источник со слов владельца"), blank=True)
    ip = models.GenericIPAddressField(_("IP-адрес"), null=True, blank=True)
    user_agent = models.CharField(_("браузер"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("когда"), auto_now_add=True)

    class Meta:
        verbose_name = _("согласие")
        verbose_name_plural = _("согласия")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The recipient page and the per-recipient export read one address's records of one owner.
            models.Index(fields=["owner", "email_key", "created_at"], name="consent_owner_email_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.kind}"


class SubscribeForm(models.Model):
    """The public subscribe form of one list: its unguessable address and whether it takes subscriptions."""

    recipient_list = models.OneToOneField(
        List, verbose_name=_("список"), on_delete=models.CASCADE, related_name="subscribe_form"
    )
    token = models.CharField(max_length=43, unique=True, editable=False)
    enabled = models.BooleanField(_("включена"), default=True)
    created_at = models.DateTimeField(_("создана"), auto_now_add=True)

    class Meta:
        verbose_name = _("форма подписки")
        verbose_name_plural = _("формы подписки")

    def __str__(self) -> str:
        return str(self.recipient_list)


class PendingSubscription(models.Model):
    """A subscription waiting for its confirmation link; nothing is added to the list before it is confirmed."""

    form = models.ForeignKey(SubscribeForm, on_delete=models.CASCADE, related_name="pending")
    # sha256 of the emailed token: the database alone does not give the links away.
    token_hash = models.CharField(max_length=64, unique=True)
    email = models.CharField(max_length=320)
    full_name = models.CharField(max_length=255, blank=True)
    advertising_wording = models.ForeignKey(ConsentWording, null=True, on_delete=models.RESTRICT, related_name="+")
    personal_data_wording = models.ForeignKey(ConsentWording, on_delete=models.RESTRICT, related_name="+")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Expired rows are deleted when later subscriptions arrive (subscribe_request).
    expires_at = models.DateTimeField(db_index=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("неподтверждённая подписка")
        verbose_name_plural = _("неподтверждённые подписки")

    def __str__(self) -> str:
        return self.email


class ImportConsentStatement(models.Model):
    """What the owner stated about an import's consents; the import's task records them for every row it adds."""

    import_job = models.OneToOneField(
        "audience.Import", on_delete=models.CASCADE, related_name="consent_statement", verbose_name=_("импорт")
    )
    source = models.CharField(_("источник согласия"), max_length=16, choices=Source.choices)
    source_note = models.TextField(_("подробности"), blank=True)
    advertising = models.BooleanField(_("согласие на рекламную рассылку"), default=False)
    personal_data = models.BooleanField(_("согласие на обработку персональных данных"), default=False)

    class Meta:
        verbose_name = _("источник согласий импорта")
        verbose_name_plural = _("источники согласий импортов")

    def __str__(self) -> str:
        return str(self.import_job_id)

    @property
    def kinds(self) -> list[str]:
        return [
            k for k, given in ((Kind.ADVERTISING, self.advertising), (Kind.PERSONAL_DATA, self.personal_data)) if given
        ]
