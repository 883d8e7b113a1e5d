"""Webhook endpoints, the outbox of messages to them and the log of every request made.

An event (`webhooks.services.event_emit`) becomes one `WebhookMessage` per subscribed endpoint, written in the
caller's transaction; the worker sends it (webhooks/sending.py) and writes one `WebhookRequest` per try.
"""

import secrets
from base64 import b64encode

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

SECRET_PREFIX = "whsec_"


def secret_new() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64 (the library decodes the rest)."""
    return SECRET_PREFIX + b64encode(secrets.token_bytes(24)).decode()


class Event(models.TextChoices):
    RUN_FINISHED = "run.finished", _("Рассылка завершила попытку")
    DELIVERY_FAILED = "delivery.failed", _("Письмо получателю не доставлено")
    RECIPIENT_UNSUBSCRIBED = "recipient.unsubscribed", _("Получатель отписался")
    BOUNCE_RECORDED = "bounce.recorded", _("Получен отказ (bounce)")


class WebhookEndpoint(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("владелец"),
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
    )
    url = models.URLField(_("адрес (URL)"), max_length=2000)
    description = models.CharField(_("описание"), max_length=200, blank=True)
    # Event codes (`Event` values). A list, not a many-to-many: an owner has a handful of endpoints, and the
    # emitter reads them all at once (services.endpoints_subscribed).
    events = models.JSONField(_("события"), default=list)
    secret = models.CharField(_("секрет подписи"), max_length=64, default=secret_new)
    is_enabled = models.BooleanField(_("включена"), default=True)
    # Set when the service disabled the endpoint itself after WEBHOOKS_DISABLE_AFTER failed messages in a row.
    disabled_automatically_at = models.DateTimeField(_("отключена автоматически"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("неудачных сообщений подряд"), default=0)
    created_at = models.DateTimeField(_("создана"), auto_now_add=True)

    class Meta:
        verbose_name = _("точка приёма вебхуков")
        verbose_name_plural = _("точки приёма вебхуков")
        ordering = ["owner_id", "created_at", "pk"]
        indexes = [
            # The emitter's lookup of an owner's enabled endpoints (services.endpoints_subscribed).
            models.Index(fields=["owner", "is_enabled"], name="webhook_endpoint_owner_idx"),
        ]
        permissions = [
            ("view_all_webhook_endpoints", _("Может просматривать точки приёма вебхуков всех пользователей")),
        ]

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def event_labels(self) -> list[str]:
        return [str(Event(code).label) if code in Event.values else code for code in self.events]


class WebhookMessage(models.Model):
    """One event for one endpoint: the exact body signed and sent on every try."""

    class State(models.TextChoices):
        PENDING = "pending", _("ожидает отправки")
        SENDING = "sending", _("отправляется")
        DELIVERED = "delivered", _("доставлено")
        FAILED = "failed", _("не доставлено")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="messages")
    # The `webhook-id` header: the same on every try, so the receiver can drop duplicates.
    msg_id = models.CharField(max_length=40, unique=True)
    event = models.CharField(_("событие"), max_length=40)
    body = models.TextField()
    state = models.CharField(_("состояние"), max_length=16, choices=State.choices, default=State.PENDING)
    tries = models.PositiveIntegerField(_("попыток"), default=0)
    next_try_at = models.DateTimeField(_("следующая попытка"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("создано"), auto_now_add=True)

    class Meta:
        verbose_name = _("сообщение вебхука")
        verbose_name_plural = _("сообщения вебхуков")
        indexes = [
            # The scheduler's wake of messages whose task was lost (tasks.webhook_messages_wake).
            models.Index(fields=["state", "next_try_at"], name="webhook_message_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.msg_id}"


class WebhookRequest(models.Model):
    """One try of one message: the delivery log of an endpoint."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="requests")
    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="requests")
    number = models.PositiveIntegerField(_("попытка"))
    at = models.DateTimeField(_("время"))
    status_code = models.PositiveIntegerField(_("код HTTP"), null=True, blank=True)
    response_excerpt = models.CharField(_("ответ"), max_length=500, blank=True)
    # Why there was no HTTP answer (a refused address, a timeout, a lost connection), as a code (sending.ERRORS).
    error = models.CharField(_("ошибка"), max_length=40, blank=True)
    error_detail = models.CharField(max_length=200, blank=True)
    duration_ms = models.PositiveIntegerField(_("длительность, мс"), default=0)
    next_retry_at = models.DateTimeField(_("следующая попытка"), null=True, blank=True)

    class Meta:
        verbose_name = _("запрос вебхука")
        verbose_name_plural = _("запросы вебхуков")
        indexes = [
            # The endpoint page's log, newest first.
            models.Index(fields=["endpoint", "-at"], name="webhook_request_log_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} #{self.number}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
