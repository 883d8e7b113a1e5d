from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.email_addresses import InternationalEmailField
from mailings.delivery.reasons import Reason, reason, reason_text


def bounce_window_open(sent_at: datetime | None) -> bool:
    """May a bounce still come back for a message sent at `sent_at`?

    Relays give up on a message after a few days (Postfix: maximal_queue_lifetime 5d) and then bounce it.
    """
    return sent_at is None or timezone.now() - sent_at < timedelta(days=int(settings.BOUNCE_LATE_DAYS))


class Recipient(models.Model):
    """Получатель рассылки: a contact in one owner's address book."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("владелец"),
        on_delete=models.CASCADE,
        related_name="recipients",
    )
    email = InternationalEmailField(_("email"))
    full_name = models.CharField(_("Ф. И. О."), max_length=255)
    comment = models.TextField(_("комментарий"), blank=True)
    created_at = models.DateTimeField(_("создан"), auto_now_add=True)
    updated_at = models.DateTimeField(_("изменён"), auto_now=True)

    class Meta:
        verbose_name = _("получатель рассылки")
        verbose_name_plural = _("получатели рассылки")
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("email"),
                name="recipient_email_unique_per_owner",
                violation_error_message=_("У вас уже есть получатель с таким email."),
            ),
        ]
        permissions = [
            ("view_all_recipients", _("Может просматривать получателей всех пользователей")),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"


class Message(models.Model):
    """Сообщение: the subject and body a mailing sends."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("владелец"),
        on_delete=models.CASCADE,
        related_name="messages",
    )
    subject = models.CharField(_("тема письма"), max_length=255)
    body = models.TextField(_("тело письма"))

    class Format(models.TextChoices):
        PLAIN = "plain", _("Простой текст")
        MARKDOWN = "markdown", _("Markdown (HTML и текст)")

    # Rows made before formatting existed are plain text and keep being sent as they were.
    format = models.CharField(_("формат"), max_length=16, choices=Format.choices, default=Format.PLAIN)
    created_at = models.DateTimeField(_("создано"), auto_now_add=True)
    updated_at = models.DateTimeField(_("изменено"), auto_now=True)

    class Meta:
        verbose_name = _("сообщение")
        verbose_name_plural = _("сообщения")
        ordering = ["-created_at"]
        permissions = [
            ("view_all_messages", _("Может просматривать сообщения всех пользователей")),
        ]

    def __str__(self) -> str:
        return self.subject


def send_block(
    *, is_enabled: bool, owner_is_active: bool, owner_blocked_at: datetime | None, end_at: datetime, now: datetime
) -> Reason | None:
    """Why a mailing may not send now, or None: THE rule, for one mailing's values.

    `MailingQuerySet.allowed_to_send` and `may_send` are the same rule as a query; keep the three together.
    """
    if not is_enabled:
        return reason("mailing_disabled")
    if not owner_is_active or owner_blocked_at is not None:
        return reason("owner_blocked")
    if now >= end_at:
        return reason("window_closed")
    return None


class MailingQuerySet(models.QuerySet["Mailing"]):
    def allowed_to_send(self) -> "MailingQuerySet":
        """Enabled, and the owner may send (active, not blocked): `send_block` without the clock."""
        return self.filter(is_enabled=True, owner__is_active=True, owner__blocked_at__isnull=True)

    def may_send(self, *, now: datetime) -> "MailingQuerySet":
        """Mailings that may send now (`send_block` gives None): allowed to send and before their end."""
        return self.allowed_to_send().filter(end_at__gt=now)


class Mailing(models.Model):
    """Рассылка: one message to chosen recipients on a schedule."""

    class Periodicity(models.TextChoices):
        ONCE = "once", _("Однократно")
        DAILY = "daily", _("Раз в день")
        WEEKLY = "weekly", _("Раз в неделю")
        MONTHLY = "monthly", _("Раз в месяц")

    class Status(models.TextChoices):
        CREATED = "created", _("Создана")
        RUNNING = "running", _("Запущена")
        FINISHED = "finished", _("Завершена")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("владелец"),
        on_delete=models.CASCADE,
        related_name="mailings",
    )
    message = models.ForeignKey(
        Message,
        verbose_name=_("сообщение"),
        on_delete=models.PROTECT,
        related_name="mailings",
    )
    recipients = models.ManyToManyField(Recipient, verbose_name=_("получатели"), related_name="mailings", blank=True)
    lists = models.ManyToManyField("audience.List", verbose_name=_("списки"), related_name="mailings", blank=True)
    all_recipients = models.BooleanField(
        _("все мои получатели"),
        default=False,
        help_text=_("Каждый запуск идёт всем получателям владельца на тот момент."),
    )
    # The owner's SMTP account it sends through; null: the service account (when the operator allows it,
    # ALLOW_SERVICE_ACCOUNT_FOR_MAILINGS). Deleting an account in use is refused (senders/services.py).
    smtp_account = models.ForeignKey(
        "senders.SmtpAccount",
        verbose_name=_("отправитель"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mailings",
    )
    start_at = models.DateTimeField(_("начало"))
    end_at = models.DateTimeField(_("окончание"))
    periodicity = models.CharField(
        _("периодичность"), max_length=16, choices=Periodicity.choices, default=Periodicity.ONCE
    )
    status = models.CharField(_("статус"), max_length=16, choices=Status.choices, default=Status.CREATED)
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
    next_run_at = models.DateTimeField(_("следующий запуск"), null=True, blank=True)
    # The send window (mailings/delivery/windows.py): hours and ISO weekdays (1 = Monday) on the owner's clock
    # when messages may leave. No start and end: any hour. New mailings take the owner's default (User.send_window_*).
    send_window_start = models.TimeField(_("отправлять с"), null=True, blank=True)
    send_window_end = models.TimeField(_("отправлять до"), null=True, blank=True)
    send_window_days = models.CharField(_("дни отправки"), max_length=7, default="1234567")
    created_at = models.DateTimeField(_("создана"), auto_now_add=True)
    updated_at = models.DateTimeField(_("изменена"), auto_now=True)

    objects = MailingQuerySet.as_manager()

    class Meta:
        verbose_name = _("рассылка")
        verbose_name_plural = _("рассылки")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_at__gt=models.F("start_at")),
                name="mailing_end_after_start",
                violation_error_message=_("Окончание рассылки должно быть позже её начала."),
            ),
            # windows.SendWindow: both ends or neither, never an empty window, at least one weekday.
            models.CheckConstraint(
                condition=~Q(send_window_days="")
                & (
                    Q(send_window_start__isnull=True, send_window_end__isnull=True)
                    | (
                        Q(send_window_start__isnull=False, send_window_end__isnull=False)
                        & ~Q(send_window_start=models.F("send_window_end"))
                    )
                ),
                name="mailing_send_window_valid",
            ),
        ]
        indexes = [
            # Scheduler: finds due mailings (enabled, next_run_at <= now) every tick.
            models.Index(fields=["is_enabled", "next_run_at"], name="mailing_due_idx"),
            # Scheduler: finds running mailings whose end_at has passed.
            models.Index(fields=["status", "end_at"], name="mailing_status_end_idx"),
            # An owner's mailings newest first (the statistics and mailings lists): a page read from the index
            # instead of sorting all of the owner's mailings on every request.
            models.Index(fields=["owner", "-created_at", "-id"], name="mailing_owner_created_idx"),
        ]
        permissions = [
            ("view_all_mailings", _("Может просматривать рассылки всех пользователей")),
            ("disable_mailing", _("Может отключать рассылки")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.message.subject}" if self.message_id else f"#{self.pk}"

    def send_block(self, *, now: datetime) -> Reason | None:
        """Why this mailing may not send now, or None (the rule: `send_block`)."""
        return send_block(
            is_enabled=self.is_enabled,
            owner_is_active=self.owner.is_active,
            owner_blocked_at=self.owner.blocked_at,
            end_at=self.end_at,
            now=now,
        )

    def audience(self) -> "models.QuerySet[Recipient]":
        """Who a run of this mailing goes to: the chosen recipients and the members of the chosen lists
        (or all the owner's recipients), each recipient once.

        One row per recipient without DISTINCT (IN subqueries, not joins), and recipient emails are unique
        per owner case-insensitively, so distinct rows are distinct addresses.
        """
        mine = Recipient.objects.filter(owner_id=self.owner_id)
        if self.all_recipients:
            return mine
        chosen = Mailing.recipients.through.objects.filter(mailing_id=self.pk).values("recipient_id")
        listed = Mailing.lists.through.objects.filter(mailing_id=self.pk).values("list_id")
        # audience.List, reached through the relation: the audience app imports this module, not the reverse.
        list_model: Any = Mailing.lists.rel.model
        members = list_model.members.through.objects.filter(list_id__in=listed).values("recipient_id")
        return mine.filter(Q(pk__in=chosen) | Q(pk__in=members))


class Attempt(models.Model):
    """Попытка рассылки: one run of a mailing (scheduled, manual or from the command line)."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("По расписанию")
        MANUAL = "manual", _("Вручную")
        COMMAND = "command", _("Из командной строки")
        RETRY = "retry", _("Повтор для неудачных")

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("Выполняется")
        SUCCESS = "success", _("Успешно")
        FAILURE = "failure", _("Не успешно")
        SKIPPED = "skipped", _("Пропущена")

    mailing = models.ForeignKey(Mailing, verbose_name=_("рассылка"), on_delete=models.CASCADE, related_name="attempts")
    trigger = models.CharField(_("запуск"), max_length=16, choices=Trigger.choices)
    scheduled_for = models.DateTimeField(_("слот расписания"), null=True, blank=True)
    retry_of = models.ForeignKey(
        "self",
        verbose_name=_("повтор попытки"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retries",
    )
    started_at = models.DateTimeField(_("начата"), default=timezone.now)
    finished_at = models.DateTimeField(_("завершена"), null=True, blank=True)
    status = models.CharField(_("статус"), max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    server_response = models.TextField(_("ответ почтового сервера"), blank=True)
    # A code from mailings/delivery/reasons.py and its parameters, put into words when shown (note_text).
    note = models.CharField(_("примечание"), max_length=255, blank=True)
    note_params = models.JSONField(_("параметры примечания"), null=True, blank=True)
    # The replies grouped, as entries rendered in the reader's language (run_finish.summary_text);
    # server_response is the same summary in the service's language, for search, the admin and the command line.
    summary = models.JSONField(_("сводка ответов"), null=True, blank=True)
    # Deliveries by state, kept as the ledger is written (mailings/delivery/counts.py): one entry per state.
    total_count = models.PositiveIntegerField(_("всего"), default=0)
    pending_count = models.PositiveIntegerField(_("в очереди"), default=0)
    sending_count = models.PositiveIntegerField(_("отправляется"), default=0)
    retry_wait_count = models.PositiveIntegerField(_("ожидает повтора"), default=0)
    sent_count = models.PositiveIntegerField(_("доставлено"), default=0)
    failed_count = models.PositiveIntegerField(_("не доставлено"), default=0)
    unknown_count = models.PositiveIntegerField(_("неизвестно"), default=0)
    skipped_count = models.PositiveIntegerField(_("пропущено"), default=0)
    # Sent deliveries that came back later as bounce reports, and complaints (bounces/services.py: bounce_record).
    bounced_count = models.PositiveIntegerField(_("возвратов"), default=0)
    complaint_count = models.PositiveIntegerField(_("жалоб"), default=0)
    wake_at = models.DateTimeField(
        _("разбудить не раньше"),
        null=True,
        blank=True,
        help_text=_("Пока этот момент не наступил, планировщик не ставит задачу отправки повторно."),
    )

    class Meta:
        verbose_name = _("попытка рассылки")
        verbose_name_plural = _("попытки рассылок")
        ordering = ["-started_at", "-pk"]
        constraints = [
            # Two schedulers never start the same slot twice: the loser's INSERT fails.
            models.UniqueConstraint(
                fields=["mailing", "scheduled_for"],
                condition=Q(trigger="schedule"),
                name="attempt_one_per_slot",
            ),
            # A double click on «Отправить сейчас» (or two `send_mailing` calls) must not mail everyone twice:
            # one run started by a person at a time per mailing.
            models.UniqueConstraint(
                fields=["mailing"],
                condition=Q(status="in_progress", trigger__in=["manual", "command", "retry"]),
                name="attempt_one_person_run_at_a_time",
            ),
            # «Повторить для неудачных» retries an attempt once; retry the retry for the rest.
            models.UniqueConstraint(fields=["retry_of"], name="attempt_one_retry_per_attempt"),
        ]
        indexes = [
            # Scheduler/finisher: attempts still in progress.
            models.Index(fields=["status"], name="attempt_status_idx"),
            # The statistics' totals and per-mailing figures (mailings/selectors.py, _stats_sql): a mailing's
            # attempts' counters read from the index alone; fetching the 2,000 table rows of an account with
            # 1,000 mailings took twice as long (1.3 ms against 0.6 ms at a million deliveries).
            models.Index(
                fields=["mailing", "status", "sent_count", "bounced_count", "failed_count"],
                name="attempt_figures_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mailing} @ {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_final(self) -> bool:
        return self.status != self.Status.IN_PROGRESS

    @property
    def note_text(self) -> str:
        return reason_text(self.note, self.note_params)

    @property
    def bounce_still_possible(self) -> bool:
        """A 250 is «принято сервером» until BOUNCE_LATE_DAYS after the run: a relay may still bounce it."""
        return bounce_window_open(self.finished_at)

    @property
    def delivered_count(self) -> int:
        """Sent and not returned later as a bounce (a complaint was delivered)."""
        return max(0, self.sent_count - self.bounced_count)


class Delivery(models.Model):
    """One message to one recipient within one attempt: the per-recipient ledger."""

    class State(models.TextChoices):
        PENDING = "pending", _("В очереди")
        SENDING = "sending", _("Отправляется")
        RETRY_WAIT = "retry_wait", _("Ожидает повтора")
        SENT = "sent", _("Доставлено")
        FAILED = "failed", _("Не доставлено")
        UNKNOWN = "unknown", _("Неизвестно")
        SKIPPED = "skipped", _("Пропущено")

    class Bounce(models.TextChoices):
        NONE = "", _("нет")
        HARD = "hard", _("Возврат: адрес недоступен")
        SOFT = "soft", _("Возврат: временная ошибка")
        COMPLAINT = "complaint", _("Жалоба на спам")

    FINAL_STATES = (State.SENT, State.FAILED, State.UNKNOWN, State.SKIPPED)

    attempt = models.ForeignKey(Attempt, verbose_name=_("попытка"), on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(
        Recipient,
        verbose_name=_("получатель"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    email = models.EmailField(_("email"))
    full_name = models.CharField(_("Ф. И. О."), max_length=255, blank=True)
    state = models.CharField(_("состояние"), max_length=16, choices=State.choices, default=State.PENDING)
    tries = models.PositiveSmallIntegerField(_("попыток"), default=0)
    next_try_at = models.DateTimeField(_("следующая попытка"), null=True, blank=True)
    lease_until = models.DateTimeField(_("занято до"), null=True, blank=True)
    lease_owner = models.CharField(_("исполнитель"), max_length=64, blank=True)
    handed_over = models.BooleanField(
        _("передано серверу"),
        default=False,
        help_text=_("Сообщение дошло до завершающей точки DATA: повтор может дать дубль."),
    )
    smtp_code = models.PositiveSmallIntegerField(_("код SMTP"), null=True, blank=True)
    smtp_reply = models.TextField(_("ответ сервера"), blank=True)
    # A code from mailings/delivery/reasons.py and its parameters, put into words when shown (reason_text).
    reason = models.CharField(_("причина"), max_length=255, blank=True)
    reason_params = models.JSONField(_("параметры причины"), null=True, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    finished_at = models.DateTimeField(_("завершено"), null=True, blank=True)
    # What came back after a 250 (bounces/services.py: bounce_record); the details are bounces.Bounce rows.
    bounce = models.CharField(_("возврат"), max_length=16, choices=Bounce.choices, default=Bounce.NONE, blank=True)
    bounced_at = models.DateTimeField(_("возврат получен"), null=True, blank=True)

    class Meta:
        verbose_name = _("доставка")
        verbose_name_plural = _("доставки")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "recipient"], name="delivery_one_per_recipient"),
        ]
        indexes = [
            # Worker: claims pending / due retry_wait deliveries of an attempt.
            # Ends in id so that "pending, never tried" comes out in id order straight from the index.
            models.Index(fields=["attempt", "state", "next_try_at", "id"], name="delivery_claim_idx"),
            # Scheduler: sweeps expired leases and wakes due retries.
            models.Index(fields=["state", "lease_until"], name="delivery_lease_idx"),
            models.Index(fields=["state", "next_try_at"], name="delivery_retry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_state_display()})"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    @property
    def reason_text(self) -> str:
        return reason_text(self.reason, self.reason_params)

    @property
    def is_bounced(self) -> bool:
        """Sent, then returned as undeliverable: not delivered (a complaint means it was delivered)."""
        return self.bounce in (self.Bounce.HARD, self.Bounce.SOFT)

    @property
    def state_label(self) -> str:
        """The state as a page shows it: a 250 is «принято сервером» while a bounce may still come back."""
        if self.state == self.State.SENT:
            if self.is_bounced or self.bounce == self.Bounce.COMPLAINT:
                return str(self.Bounce(self.bounce).label)
            if self.bounce_still_possible:
                return str(_("Принято сервером"))
        return str(self.get_state_display())

    @property
    def bounce_still_possible(self) -> bool:
        return bounce_window_open(self.finished_at)

    def set_reason(self, why: Reason | None) -> None:
        self.reason = why.code if why is not None else ""
        self.reason_params = why.stored_params() if why is not None else None


class SmtpAccountState(models.Model):
    """Shared state of one SMTP account (host, port, login): circuit breaker and sending counters.

    Kept in the database so that every worker process sees the same breaker and the hourly and
    daily counts survive restarts. Updated only by conditional UPDATEs (see services/breaker.py
    and services/ratelimit.py).
    """

    account = models.CharField(_("учётная запись SMTP"), max_length=255, unique=True)
    breaker_open_until = models.DateTimeField(_("отправка приостановлена до"), null=True, blank=True)
    breaker_opens = models.PositiveIntegerField(_("срабатываний подряд"), default=0)
    # A code from mailings/delivery/reasons.py and its parameters (breaker_reason_text).
    breaker_reason = models.CharField(_("причина приостановки"), max_length=255, blank=True)
    breaker_reason_params = models.JSONField(_("параметры причины приостановки"), null=True, blank=True)
    breaker_probe_until = models.DateTimeField(_("проверка сервера до"), null=True, blank=True)
    breaker_changed_at = models.DateTimeField(_("состояние изменено"), null=True, blank=True)
    hour_start = models.DateTimeField(_("начало часа"), null=True, blank=True)
    hour_count = models.PositiveIntegerField(_("отправлено за час"), default=0)
    day_start = models.DateTimeField(_("начало суток"), null=True, blank=True)
    day_count = models.PositiveIntegerField(_("отправлено за сутки"), default=0)
    paced_until = models.DateTimeField(_("темп: занято до"), null=True, blank=True)
    version = models.PositiveBigIntegerField(_("версия"), default=0)

    class Meta:
        verbose_name = _("состояние учётной записи SMTP")
        verbose_name_plural = _("состояния учётных записей SMTP")

    def __str__(self) -> str:
        return self.account

    @property
    def is_breaker_open(self) -> bool:
        return self.breaker_open_until is not None

    @property
    def breaker_reason_text(self) -> str:
        return reason_text(self.breaker_reason, self.breaker_reason_params)
