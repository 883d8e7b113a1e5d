"""Demo accounts and a demo owner's data that makes every page show something (idempotent)."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone, translation

from core.data_versions import data_version_bump_everyone
from mailings.delivery.counts import COUNT_FIELDS, STATE_COUNT_FIELDS
from mailings.delivery.reasons import Reason, reason
from mailings.delivery.run_finish import attempt_summary, summary_text
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from moderation.services import mailing_disable
from users.models import AuditEvent, User
from users.roles import MANAGERS_GROUP, groups_ensure

logger = logging.getLogger(__name__)

# A greylisting relay that kept saying 421 until the retries ran out.
_EXHAUSTED = reason("retries_exhausted", reason=reason("temporary", stage="RCPT"))

DEMO_PASSWORD = "vestnik-demo"
DEMO_EMAIL = "demo@vestnik.local"
MANAGER_EMAIL = "manager@vestnik.local"
ADMIN_EMAIL = "admin@vestnik.local"
DEMO_DISABLED_REASON = "Жалобы получателей на спам: проверьте согласие на рассылку"
# Stored as typed by a manager (the journal shows reasons as written), hence not translated.
REAL_SERVER_REASON = (
    "Демо-данные: настроен настоящий почтовый сервер (EMAIL_HOST), демо-рассылки на него не отправляются"
)

RECIPIENTS = [
    ("anna.smirnova@example.com", "Смирнова Анна Сергеевна", "Постоянный клиент, любит скидки"),
    ("boris.ivanov@example.com", "Иванов Борис Петрович", ""),
    ("vera.kuznetsova@example.com", "Кузнецова Вера Андреевна", "Оптовый покупатель"),
    ("grigory.popov@example.com", "Попов Григорий Ильич", ""),
    ("darya.sokolova@example.com", "Соколова Дарья Михайловна", "Подписалась на выставке"),
    ("egor.lebedev@example.com", "Лебедев Егор Олегович", ""),
    ("zhanna.kozlova@example.com", "Козлова Жанна Викторовна", "Просила писать не чаще раза в неделю"),
    ("ivan.novikov@example.com", "Новиков Иван Денисович", ""),
    ("kira.morozova@example.com", "Морозова Кира Алексеевна", ""),
    ("leonid.volkov@example.org", "Волков Леонид Павлович", "Адрес больше не существует"),
    ("maria.alekseeva@example.org", "Алексеева Мария Игоревна", ""),
    ("nikita.pavlov@example.org", "Павлов Никита Романович", "Почтовый сервер часто отвечает 421"),
]

MESSAGES = [
    ("Весенняя распродажа: −30% на всё", "Здравствуйте!\n\nДо конца месяца — скидка 30% на весь ассортимент.\n"),
    ("Новости недели", "Здравствуйте!\n\nРассказываем, что нового у нас за неделю.\n"),
    ("Приглашение на день открытых дверей", "Здравствуйте!\n\nЖдём вас в субботу в 12:00 в нашем шоуруме.\n"),
    ("Ваш персональный промокод", "Здравствуйте!\n\nВаш промокод VESNA-2026 действует 7 дней.\n"),
]

OK = "250 2.0.0 Ok: queued as {queue_id}"
USER_UNKNOWN = "550 5.1.1 <{email}>: Recipient address rejected: User unknown"
TRY_LATER = "421 4.7.0 Try again later"


@dataclass
class DeliveryPlan:
    state: str
    code: int | None = None
    reply: str = ""
    reason: Reason | None = None
    tries: int = 1


@dataclass
class AttemptPlan:
    days_ago: float
    status: str
    trigger: str = Attempt.Trigger.SCHEDULE
    server_response: str = ""
    note: str = ""
    deliveries: dict[str, DeliveryPlan] = field(default_factory=dict)


def _ensure_user(email: str, **extra: Any) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=DEMO_PASSWORD, email_confirmed_at=timezone.now(), **extra)
    return user


def _ensure_manager() -> User:
    manager = _ensure_user(MANAGER_EMAIL, first_name="Менеджер", last_name="Демо")
    manager.groups.add(groups_ensure()[MANAGERS_GROUP])
    return manager


def _sent() -> DeliveryPlan:
    return DeliveryPlan(Delivery.State.SENT, 250, OK)


def _plan_deliveries(
    emails: list[str], *, rejected: tuple[str, ...] = (), extra: dict[str, DeliveryPlan] | None = None
) -> dict[str, DeliveryPlan]:
    """All sent, except the `rejected` addresses (user unknown) and whatever `extra` overrides."""
    plans = {email: _sent() for email in emails}
    for email in rejected:
        plans[email] = DeliveryPlan(
            Delivery.State.FAILED, 550, USER_UNKNOWN.format(email=email), reason("permanent", stage="RCPT")
        )
    plans.update(extra or {})
    return plans


def _create_attempt(
    mailing: Mailing, recipients: dict[str, Recipient], plan: AttemptPlan, base: datetime, now: datetime
) -> None:
    """The attempt `plan.days_ago` days before the slot `base`, with its deliveries and counts."""
    slot = base - timedelta(days=plan.days_ago)
    started = slot + timedelta(minutes=1)
    final = plan.status != Attempt.Status.IN_PROGRESS
    attempt = Attempt.objects.create(
        mailing=mailing,
        trigger=plan.trigger,
        scheduled_for=slot if plan.trigger == Attempt.Trigger.SCHEDULE else None,
        started_at=started,
        finished_at=started + timedelta(minutes=2) if final else None,
        status=plan.status,
        note=plan.note,
    )
    rows = []
    for email, item in plan.deliveries.items():
        recipient = recipients[email]
        rows.append(
            Delivery(
                attempt=attempt,
                recipient=recipient,
                email=recipient.email,
                full_name=recipient.full_name,
                state=item.state,
                tries=item.tries,
                smtp_code=item.code,
                smtp_reply=item.reply.format(queue_id=f"{0x4F3A1 + attempt.pk * 100 + recipient.pk:X}"),
                reason=item.reason.code if item.reason else "",
                reason_params=item.reason.stored_params() if item.reason else None,
                message_id=f"<demo.{attempt.pk}.{recipient.pk}@vestnik.local>" if item.state == "sent" else "",
                next_try_at=now + timedelta(hours=2) if item.state == Delivery.State.RETRY_WAIT else None,
                lease_until=now + timedelta(minutes=5) if item.state == Delivery.State.SENDING else None,
                finished_at=started + timedelta(minutes=1) if item.state in Delivery.FINAL_STATES else None,
            )
        )
    Delivery.objects.bulk_create(rows)
    states = [row.state for row in rows]
    attempt.total_count = len(rows)
    # Every state's counter, as the engine keeps them (mailings/delivery/counts.py).
    for state, column in STATE_COUNT_FIELDS.items():
        setattr(attempt, column, states.count(state))
    fields = list(COUNT_FIELDS)
    if final and rows:
        # The engine's own summary of the replies (run_finish), as a finished run has it.
        attempt.summary = attempt_summary(attempt_id=attempt.pk)
        with translation.override(settings.LANGUAGE_CODE):
            attempt.server_response = summary_text(attempt.summary)
        fields += ["summary", "server_response"]
    else:
        attempt.server_response = plan.server_response
        fields.append("server_response")
    attempt.save(update_fields=fields)


def _seed_owner_data(owner: User, manager: User, now: datetime, *, with_mailings: bool = True) -> None:
    recipients = {}
    for email, full_name, comment in RECIPIENTS:
        recipient = Recipient.objects.filter(owner=owner, email__iexact=email).first()
        if recipient is None:
            recipient = Recipient.objects.create(owner=owner, email=email, full_name=full_name, comment=comment)
        recipients[email] = recipient
    messages = []
    for subject, body in MESSAGES:
        message, _ = Message.objects.get_or_create(owner=owner, subject=subject, defaults={"body": body})
        messages.append(message)
    if not with_mailings:
        return

    emails = [email for email, _, _ in RECIPIENTS]
    # The demo mailings run at 09:00 local time; `base` is the latest such slot that has come.
    base = timezone.localtime(now).replace(hour=9, minute=0, second=0, microsecond=0)
    if base > now:
        base -= timedelta(days=1)
    specs: list[tuple[Message, dict[str, Any], list[str], list[AttemptPlan]]] = [
        (
            # Запущена: daily, ran on the last days; today's run is still in progress.
            messages[1],
            {
                "start_at": base - timedelta(days=3),
                "end_at": base + timedelta(days=27),
                "periodicity": Mailing.Periodicity.DAILY,
                "status": Mailing.Status.RUNNING,
                "next_run_at": base + timedelta(days=1),
            },
            emails,
            [
                AttemptPlan(
                    # The engine's rule: an attempt is successful only when every recipient got the message.
                    3,
                    Attempt.Status.FAILURE,
                    deliveries=_plan_deliveries(emails, rejected=(emails[9], emails[10])),
                ),
                AttemptPlan(
                    2,
                    Attempt.Status.FAILURE,
                    deliveries=_plan_deliveries(
                        emails,
                        rejected=(emails[9],),
                        extra={
                            emails[11]: DeliveryPlan(Delivery.State.FAILED, 421, TRY_LATER, _EXHAUSTED, 5),
                            emails[8]: DeliveryPlan(
                                Delivery.State.UNKNOWN, None, "", reason("lost_after_dot", what=reason("reply_timeout"))
                            ),
                        },
                    ),
                ),
                AttemptPlan(
                    0.5,
                    Attempt.Status.SUCCESS,
                    trigger=Attempt.Trigger.MANUAL,
                    deliveries=_plan_deliveries(emails[:6]),
                ),
                AttemptPlan(
                    0,
                    Attempt.Status.IN_PROGRESS,
                    server_response="250 2.0.0 Ok ×6",
                    deliveries={
                        **{email: _sent() for email in emails[:6]},
                        emails[6]: DeliveryPlan(Delivery.State.SENDING, tries=1),
                        emails[7]: DeliveryPlan(Delivery.State.PENDING, tries=0),
                        emails[8]: DeliveryPlan(Delivery.State.PENDING, tries=0),
                        emails[9]: DeliveryPlan(
                            Delivery.State.FAILED,
                            550,
                            USER_UNKNOWN.format(email=emails[9]),
                            reason("permanent", stage="RCPT"),
                        ),
                        emails[10]: DeliveryPlan(Delivery.State.PENDING, tries=0),
                        emails[11]: DeliveryPlan(
                            Delivery.State.RETRY_WAIT, 421, TRY_LATER, reason("temporary", stage="RCPT")
                        ),
                    },
                ),
            ],
        ),
        (
            # Завершена: weekly, the window closed a month ago.
            messages[0],
            {
                "start_at": base - timedelta(days=45),
                "end_at": base - timedelta(days=30),
                "periodicity": Mailing.Periodicity.WEEKLY,
                "status": Mailing.Status.FINISHED,
                "next_run_at": None,
            },
            emails[:10],
            [
                AttemptPlan(45, Attempt.Status.SUCCESS, deliveries=_plan_deliveries(emails[:9])),
                AttemptPlan(
                    38, Attempt.Status.FAILURE, deliveries=_plan_deliveries(emails[:10], rejected=(emails[9],))
                ),
                AttemptPlan(
                    31,
                    Attempt.Status.SKIPPED,
                    server_response="",
                    note="missed_slot",
                ),
            ],
        ),
        (
            # Создана: starts in three days, monthly.
            messages[2],
            {
                "start_at": base + timedelta(days=3),
                "end_at": base + timedelta(days=93),
                "periodicity": Mailing.Periodicity.MONTHLY,
                "status": Mailing.Status.CREATED,
                "next_run_at": base + timedelta(days=3),
            },
            emails[:8],
            [],
        ),
        (
            # Отключена менеджером after one run whose sending was stopped.
            messages[3],
            {
                "start_at": base - timedelta(days=8),
                "end_at": base + timedelta(days=22),
                "periodicity": Mailing.Periodicity.WEEKLY,
                "status": Mailing.Status.RUNNING,
                "next_run_at": base + timedelta(days=6),
            },
            emails[2:9],
            [
                AttemptPlan(
                    8,
                    Attempt.Status.FAILURE,
                    deliveries=_plan_deliveries(
                        emails[2:9],
                        extra={
                            email: DeliveryPlan(Delivery.State.SKIPPED, None, "", reason("mailing_disabled"), 0)
                            for email in emails[5:9]
                        },
                    ),
                )
            ],
        ),
    ]
    for message, fields, mailing_emails, attempts in specs:
        if Mailing.objects.filter(owner=owner, message=message).exists():
            continue
        mailing = Mailing.objects.create(owner=owner, message=message, **fields)
        mailing.recipients.set([recipients[email] for email in mailing_emails])
        for plan in attempts:
            _create_attempt(mailing, recipients, plan, base, now)
        if message == messages[3]:
            _disable_as_a_manager_did(mailing=mailing, manager=manager, when=now - timedelta(days=7))


def _disable_as_a_manager_did(*, mailing: Mailing, manager: User, when: datetime) -> None:
    """Disabled through the managers' service, so the journal has its line, then dated back to the story's day."""
    mailing_disable(mailing=mailing, actor=manager, reason=DEMO_DISABLED_REASON)
    Mailing.objects.filter(pk=mailing.pk).update(disabled_at=when)
    AuditEvent.objects.filter(
        action=AuditEvent.Action.MAILING_DISABLED, target_type=AuditEvent.TargetType.MAILING, target_id=mailing.pk
    ).update(created_at=when)


def demo_mailings_keep_off_real_server(*, manager: User | None) -> int:
    """Disable every demo mailing that could send when mail goes to a real server; how many were disabled.

    The demo's daily mailing and its pending deliveries would otherwise go through the owner's real account.
    The delivery engine re-checks `is_enabled` before each message, so a run in progress stops too.
    """
    if settings.EMAIL_USES_MAILSINK or manager is None:
        return 0
    disabled = 0
    for mailing in Mailing.objects.filter(owner__email__iexact=DEMO_EMAIL, is_enabled=True).select_related(
        "message", "owner"
    ):
        mailing_disable(mailing=mailing, actor=manager, reason=REAL_SERVER_REASON)
        disabled += 1
    return disabled


DEMO_ARTICLES = [
    (
        "Как не попасть в спам: пять правил рассылки",
        "Пишите только тем, кто согласился получать письма. Указывайте понятную тему. Не отправляйте "
        "всю базу за минуту — Вестник сам соблюдает ограничения почтового сервера.\n\nПроверяйте "
        "страницу попытки: адреса с ответом 550 лучше удалить из списка.",
    ),
    (
        "Что значит «Неизвестно» в отчёте о доставке",
        "Если связь с почтовым сервером оборвалась после того, как письмо было передано, сервер мог его "
        "принять. Вестник не отправляет такое письмо повторно сам, чтобы никто не получил его дважды: "
        "решите сами, нажав «Повторить для неудачных».",
    ),
    (
        "Еженедельная рассылка за три шага",
        "Добавьте получателей, напишите сообщение и создайте рассылку с периодичностью «Раз в неделю». "
        "Первое письмо уйдёт в момент начала, следующие — в тот же день недели и час.",
    ),
]


def _seed_articles(now: datetime) -> None:
    from blog.models import Article
    from blog.selectors import articles_cache_clear

    for days_ago, (title, body) in enumerate(DEMO_ARTICLES, start=1):
        Article.objects.get_or_create(
            title=title,
            defaults={"body": body, "is_published": True, "published_at": now - timedelta(days=days_ago * 3)},
        )
    transaction.on_commit(articles_cache_clear)


class Command(BaseCommand):
    help = "Create the demo accounts and demo data (idempotent: running it again changes nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--admin-password-file",
            default="",
            help="the superuser's password is read from this file; without it the published demo password "
            "is used only with DEBUG, otherwise the superuser gets no usable password",
        )
        parser.add_argument(
            "--with-mailings",
            action="store_true",
            help="load the demo mailings even though EMAIL_HOST is set: only for a mail server that is a sink "
            "of its own (screenshots, tests), never a real one",
        )
        parser.add_argument(
            "--guard-only",
            action="store_true",
            help="load nothing; only make sure that existing demo mailings cannot reach a real mail server",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if options["guard_only"]:
            disabled = demo_mailings_keep_off_real_server(manager=User.objects.filter(email=MANAGER_EMAIL).first())
            if disabled:
                self.stdout.write(f"{disabled} demo mailing(s) disabled: mail goes to a real server (EMAIL_HOST).")
            return
        demo = _ensure_user(DEMO_EMAIL, first_name="Демо", last_name="Пользователь")
        self._ensure_admin(options["admin_password_file"])
        manager = _ensure_manager()
        if settings.EMAIL_USES_MAILSINK or options["with_mailings"]:
            _seed_owner_data(demo, manager, timezone.now())
        else:
            # Recipients and messages only: a demo mailing would really send through the configured server.
            _seed_owner_data(demo, manager, timezone.now(), with_mailings=False)
            disabled = demo_mailings_keep_off_real_server(manager=manager)
            self.stdout.write(
                "Mail goes to a real server (EMAIL_HOST): no demo mailings were created"
                + (f", {disabled} existing one(s) disabled." if disabled else ".")
            )
        _seed_articles(timezone.now())
        # Written directly, not through the services: cached pages must not outlive the old data.
        data_version_bump_everyone()
        self.stdout.write("Demo data is in place.")

    def _ensure_admin(self, password_file: str) -> None:
        """The demo superuser; its published password only ever in a development (DEBUG) run."""
        if password_file:
            password: str | None = Path(password_file).read_text(encoding="utf-8").strip()
        else:
            password = DEMO_PASSWORD if settings.DEBUG else None
        admin = User.objects.filter(email__iexact=ADMIN_EMAIL).first()
        if admin is None:
            admin = User(
                email=ADMIN_EMAIL,
                first_name="Администратор",
                is_staff=True,
                is_superuser=True,
                email_confirmed_at=timezone.now(),
            )
        elif admin.has_usable_password() and not admin.check_password(DEMO_PASSWORD):
            # A password somebody chose is kept; only the published one is replaced outside development.
            return
        if password is None:
            admin.set_unusable_password()
        else:
            admin.set_password(password)
        admin.save()
