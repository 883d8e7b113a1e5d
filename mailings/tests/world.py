"""Small builders for the pages' tests: rows with sensible defaults, created directly (not through views)."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from mailings.delivery.counts import COUNT_FIELDS, attempt_counts_recount
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from users.models import User


def make_recipient(owner: User, email: str = "client@example.com", **extra: Any) -> Recipient:
    extra.setdefault("full_name", "Иван Петров")
    return Recipient.objects.create(owner=owner, email=email, **extra)


def make_message(owner: User, subject: str = "Новости недели", **extra: Any) -> Message:
    extra.setdefault("body", "Здравствуйте! У нас новости.")
    return Message.objects.create(owner=owner, subject=subject, **extra)


def make_mailing(
    owner: User,
    *,
    message: Message | None = None,
    recipients: list[Recipient] | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    **extra: Any,
) -> Mailing:
    now = timezone.now()
    mailing = Mailing.objects.create(
        owner=owner,
        message=message or make_message(owner),
        start_at=start_at or now + timedelta(days=1),
        end_at=end_at or now + timedelta(days=30),
        **extra,
    )
    if recipients:
        mailing.recipients.set(recipients)
    return mailing


def make_attempt(mailing: Mailing, *, states: Sequence[str] = (), **extra: Any) -> Attempt:
    """An attempt with one delivery per entry of `states`.

    Its counters are counted from those deliveries (as the engine keeps them), unless the test gives its own.
    """
    extra.setdefault("trigger", Attempt.Trigger.SCHEDULE if "scheduled_for" in extra else Attempt.Trigger.MANUAL)
    extra.setdefault("status", Attempt.Status.SUCCESS)
    attempt = Attempt.objects.create(mailing=mailing, total_count=len(states), **extra)
    Delivery.objects.bulk_create(
        Delivery(attempt=attempt, email=f"r{i}-{attempt.pk}@example.com", state=state) for i, state in enumerate(states)
    )
    if not set(extra) & set(COUNT_FIELDS):
        attempt_counts_recount(attempt_id=attempt.pk)
        attempt.refresh_from_db()
    return attempt
