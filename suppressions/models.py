"""The suppression list: addresses an owner never mails again (ARCHITECTURE.md, «Consent and suppression»).

It lives apart from `Recipient` on purpose: deleting a recipient, adding it again by hand or importing it
again never lifts a suppression. An entry is removed only by the owner stating a new consent, or by the
recipient's own «Подписаться снова»; either leaves a `SuppressionLift` row behind as the record.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def suppression_key(email: str) -> str:
    """The address as suppressions match it: case-insensitive on the whole address, like a recipient's
    `Lower("email")` uniqueness and the import's `email_key`."""
    return email.strip().lower()


class Suppression(models.Model):
    """An address one owner must not mail: who, when, how and why."""

    class Source(models.TextChoices):
        LINK = "link", _("ссылка отписки в письме")
        ONE_CLICK = "one_click", _("отписка в один клик (почтовый клиент)")
        MAILTO = "mailto", _("письмо на адрес отписки")
        OWNER = "owner", _("добавлен владельцем")
        API = "api", _("через API")
        BOUNCE_HARD = "bounce_hard", _("постоянная ошибка доставки")
        BOUNCE_SOFT = "bounce_soft", _("повторяющиеся временные ошибки доставки")
        COMPLAINT = "complaint", _("жалоба на спам")

    # Sources that are the recipient's own request: they may undo it themselves («Подписаться снова»).
    RECIPIENT_SOURCES = (Source.LINK, Source.ONE_CLICK, Source.MAILTO)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("владелец"), on_delete=models.CASCADE, related_name="suppressions"
    )
    email = models.CharField(_("email"), max_length=320)
    email_key = models.CharField(max_length=320, editable=False)
    source = models.CharField(_("как"), max_length=16, choices=Source.choices)
    reason = models.CharField(_("причина"), max_length=500, blank=True)
    detail = models.TextField(_("подробности"), blank=True)
    created_at = models.DateTimeField(_("когда"), auto_now_add=True)

    class Meta:
        verbose_name = _("отписка")
        verbose_name_plural = _("отписки")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One entry per (owner, address): suppression_add is idempotent through it; it is also the index
            # of every lookup (the run's snapshot, the engine's per-batch check, the recipient badge).
            models.UniqueConstraint(fields=["owner", "email_key"], name="suppression_one_per_owner_address"),
        ]
        permissions = [
            ("view_all_suppressions", _("Может просматривать отписки всех пользователей")),
        ]

    def __str__(self) -> str:
        return self.email


class SuppressionLift(models.Model):
    """A removed suppression: the entry as it was, and who lifted it, when and on what statement of consent."""

    class How(models.TextChoices):
        OWNER_CONSENT = "owner_consent", _("владелец указал новое согласие")
        RESUBSCRIBE = "resubscribe", _("получатель подписался снова")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("владелец"), on_delete=models.CASCADE, related_name="+"
    )
    email = models.CharField(_("email"), max_length=320)
    suppressed_at = models.DateTimeField(_("отписан"))
    suppressed_source = models.CharField(_("как отписан"), max_length=16, choices=Suppression.Source.choices)
    suppressed_reason = models.CharField(_("причина отписки"), max_length=500, blank=True)
    how = models.CharField(_("как снята"), max_length=16, choices=How.choices)
    statement = models.TextField(_("как получено согласие"), blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("кем снята"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    lifted_at = models.DateTimeField(_("снята"), auto_now_add=True)

    class Meta:
        verbose_name = _("снятая отписка")
        verbose_name_plural = _("снятые отписки")
        ordering = ["-lifted_at", "-pk"]

    def __str__(self) -> str:
        return self.email
