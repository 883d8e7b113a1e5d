"""The world the access tests walk: six actors and one object of every kind, all owned by `owner`."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.utils import timezone

from api.models import ApiToken
from api.services import api_token_create
from audience.models import Import, ImportRow, List
from blog.models import Article
from bounces.mailboxes import MailboxSettings, bounce_mailbox_save
from bounces.models import Bounce, BounceMailbox
from consents.models import ConsentWording, Kind, Method, SubscribeForm
from consents.services import consent_record_add, subscribe_form_enable
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from moderation.services import mailing_disable, smtp_account_disable
from senders.models import SmtpAccount
from senders.services import AccountSettings, smtp_account_create
from suppressions.models import Suppression
from suppressions.tokens import token_make
from users.models import User
from webhooks.models import WebhookEndpoint

ACTORS = ["anonymous", "owner", "other", "manager", "blocked", "superuser"]

# Fields that a request may change without writing anything that matters.
# A token records when it was last used (api/auth.py) on every kind of request.
_VOLATILE_FIELDS = {"blog.article": {"views_count"}, "api.apitoken": {"last_used_at"}}
_SNAPSHOT_APPS = [
    "auth",
    "users",
    "mailings",
    "senders",
    "audience",
    "consents",
    "suppressions",
    "blog",
    "webhooks",
    "bounces",
    "api",
    "django_tasks_db",
]
# The password of the world's SMTP accounts: no page may ever show it.
SMTP_PASSWORD = "world-smtp-app-password-5q7z"


@dataclass
class World:
    users: dict[str, User | None]
    recipient: Recipient
    message: Message
    mailing: Mailing
    disabled_mailing: Mailing
    attempt: Attempt
    article: Article
    recipient_list: List
    import_job: Import
    smtp_account: SmtpAccount
    disabled_smtp_account: SmtpAccount
    webhook_endpoint: WebhookEndpoint

    subscribe_form: SubscribeForm
    wording: ConsentWording

    bounce_mailbox: BounceMailbox
    suppression: Suppression
    # A recipient's personal unsubscribe link for an address of `owner` that is not suppressed yet.
    unsubscribe_token: str
    api_token: ApiToken


def world_build(*, owner: User, other: User, manager: User, blocked: User, text: str = "Новости недели") -> World:
    """Every object belongs to `owner`; `text` goes into every free-text field a manager may be shown."""
    superuser = User.objects.create_superuser(
        email="root@example.com", password="correct-horse-battery-staple", email_confirmed_at=timezone.now()
    )
    now = timezone.now()

    def account(name: str) -> SmtpAccount:
        values = AccountSettings(
            name=name,
            host="smtp.example.com",
            port=465,
            security=SmtpAccount.Security.SSL,
            login="shop@example.com",
            from_email="shop@example.com",
            from_name=text,
        )
        return smtp_account_create(owner=owner, values=values, password=SMTP_PASSWORD)

    smtp_account = account(text)
    disabled_smtp_account = account(f"{text} 2")
    smtp_account_disable(account=disabled_smtp_account, actor=manager, reason=text)
    recipient = Recipient.objects.create(owner=owner, email="client@example.com", full_name=text, comment=text)
    message = Message.objects.create(owner=owner, subject=text, body=text)
    mailing = Mailing.objects.create(
        owner=owner,
        message=message,
        start_at=now - timedelta(hours=1),
        end_at=now + timedelta(days=1),
        smtp_account=smtp_account,
    )
    mailing.recipients.set([recipient])
    disabled = Mailing.objects.create(
        owner=owner, message=message, start_at=now - timedelta(hours=1), end_at=now + timedelta(days=1)
    )
    disabled.recipients.set([recipient])
    mailing_disable(mailing=disabled, actor=manager, reason=text)
    attempt = Attempt.objects.create(
        mailing=mailing,
        trigger=Attempt.Trigger.MANUAL,
        status=Attempt.Status.FAILURE,
        finished_at=now,
        total_count=1,
        failed_count=1,
    )
    delivery = Delivery.objects.create(
        attempt=attempt,
        recipient=recipient,
        email=recipient.email,
        full_name=text,
        state=Delivery.State.FAILED,
        smtp_code=550,
        smtp_reply="550 5.1.1 User unknown",
        reason=text,
    )
    bounce_mailbox = bounce_mailbox_save(
        owner=owner,
        values=MailboxSettings(host="imap.example.com", port=993, security="ssl", login=text),
        password=SMTP_PASSWORD,
    )
    Bounce.objects.create(
        owner=owner,
        delivery=delivery,
        email=recipient.email,
        kind=Bounce.Kind.HARD,
        status="5.1.1",
        diagnostic=text,
        source=Bounce.Source.IMAP,
        report_digest="world",
    )
    recipient_list = List.objects.create(owner=owner, name=text)
    recipient_list.members.add(recipient)
    mailing.lists.add(recipient_list)
    import_job = Import.objects.create(
        owner=owner,
        token="world",
        file_name=f"{text}.csv",
        file_format=Import.Format.CSV,
        status=Import.Status.DONE,
        rows_total=2,
        created_count=1,
        invalid_count=1,
    )
    ImportRow.objects.create(
        import_job=import_job,
        line=3,
        email="not-an-address",
        email_key="not-an-address",
        full_name=text,
        outcome=ImportRow.Outcome.INVALID,
    )
    webhook_endpoint = WebhookEndpoint.objects.create(
        owner=owner, url="https://shop.example.com/hooks/vestnik", description=text, events=["run.finished"]
    )

    api_token, _secret = api_token_create(owner=owner, name=text, scope=ApiToken.Scope.WRITE)
    subscribe_form = subscribe_form_enable(recipient_list=recipient_list)
    wording = ConsentWording.objects.create(owner=owner, kind=Kind.ADVERTISING, version=2, text=text)
    consent_record_add(
        owner_id=owner.pk,
        email=recipient.email,
        kind=Kind.ADVERTISING,
        method=Method.FORM,
        wording=wording,
        ip="203.0.113.7",
        user_agent=text,
    )
    consent_record_add(
        owner_id=owner.pk, email=recipient.email, kind=Kind.PERSONAL_DATA, method=Method.MANUAL, source_note=text
    )

    suppression = Suppression.objects.create(
        owner=owner, email="gone@example.com", email_key="gone@example.com", source="link", reason=text
    )
    article = Article.objects.create(title="Статья", body="Текст статьи", is_published=True, published_at=now)
    users: dict[str, User | None] = {
        "anonymous": None,
        "owner": owner,
        "other": other,
        "manager": manager,
        "blocked": blocked,
        "superuser": superuser,
    }
    return World(
        users=users,
        recipient=recipient,
        message=message,
        mailing=mailing,
        disabled_mailing=disabled,
        attempt=attempt,
        article=article,
        recipient_list=recipient_list,
        import_job=import_job,
        smtp_account=smtp_account,
        disabled_smtp_account=disabled_smtp_account,
        webhook_endpoint=webhook_endpoint,
        subscribe_form=subscribe_form,
        wording=wording,
        bounce_mailbox=bounce_mailbox,
        suppression=suppression,
        unsubscribe_token=token_make(owner_id=owner.pk, email="client@example.com", mailing_id=mailing.pk),
        api_token=api_token,
    )


def db_snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of ours (and the groups, permissions links and queued tasks), field by field."""
    snapshot = {}
    for label in _SNAPSHOT_APPS:
        try:
            config = apps.get_app_config(label)
        except LookupError:  # django_tasks_db is not installed with the RQ backend
            continue
        for model in config.get_models(include_auto_created=True):
            volatile = _VOLATILE_FIELDS.get(model._meta.label_lower, set())
            rows = [
                {k: v for k, v in row.items() if k not in volatile}
                for row in model._default_manager.order_by("pk").values()
            ]
            snapshot[model._meta.label] = rows
    return snapshot
