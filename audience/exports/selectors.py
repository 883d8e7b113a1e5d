"""Rows of the exports, read in keyset-ordered chunks so that memory stays flat whatever the number of rows."""

import logging
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audience.models import List
from mailings.delivery.reasons import reason_text
from mailings.models import Attempt, Delivery, Recipient
from mailings.selectors import stats_per_mailing
from users.models import User

logger = logging.getLogger(__name__)

CHUNK = 2000


def _local(value: Any) -> Any:
    return timezone.localtime(value) if value is not None else None


def recipient_header(*, with_owner: bool) -> list[str]:
    header = [_("Эл. почта"), _("Ф. И. О."), _("Комментарий"), _("Списки"), _("Добавлен")]
    return [*header, _("Владелец")] if with_owner else header


def recipient_rows(*, recipients: QuerySet[Recipient], with_owner: bool) -> Iterator[list[Any]]:
    """Each recipient with the names of its lists, by chunks of CHUNK in id order (two queries a chunk)."""
    fields = ["pk", "email", "full_name", "comment", "created_at", "owner__email"]
    qs = recipients.order_by("pk").values_list(*fields)
    last = 0
    while True:
        chunk = list(qs.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            return
        last = chunk[-1][0]
        names: dict[int, list[str]] = {}
        memberships = (
            List.members.through.objects.filter(recipient_id__in=[row[0] for row in chunk])
            .order_by("list__name")
            .values_list("recipient_id", "list__name")
        )
        for recipient_id, name in memberships:
            names.setdefault(recipient_id, []).append(name)
        for pk, email, full_name, comment, created_at, owner_email in chunk:
            row = [email, full_name, comment, ", ".join(names.get(pk, [])), _local(created_at)]
            yield [*row, owner_email] if with_owner else row


def ledger_header() -> list[str]:
    return [
        _("Эл. почта"),
        _("Ф. И. О."),
        _("Состояние"),
        _("Попыток"),
        _("Код SMTP"),
        _("Ответ сервера"),
        _("Причина"),
        _("Завершено"),
        _("Следующая попытка"),
        "Message-ID",
    ]


def ledger_rows(*, attempt: Attempt) -> Iterator[list[Any]]:
    """Every delivery of the attempt: state, code, the server's reply and times (id order, by chunks)."""
    states = dict(Delivery.State.choices)
    fields = ["pk", "email", "full_name", "state", "tries", "smtp_code", "smtp_reply", "reason", "reason_params"]
    qs = attempt.deliveries.order_by("pk").values_list(*fields, "finished_at", "next_try_at", "message_id")
    last = 0
    while True:
        chunk = list(qs.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            return
        last = chunk[-1][0]
        for _pk, email, name, state, tries, code, reply, reason, params, finished, next_try, message_id in chunk:
            yield [
                email,
                name,
                str(states.get(state, state)),
                tries,
                code,
                reply,
                reason_text(reason, params) if reason else "",
                _local(finished),
                _local(next_try),
                message_id,
            ]


def stats_header(*, with_owner: bool) -> list[str]:
    header = [
        _("Рассылка"),
        _("Тема"),
        _("Попыток"),
        _("Успешных"),
        _("Неуспешных"),
        _("Доставлено"),
        _("Возвраты"),
        _("Не доставлено"),
    ]
    return [*header, _("Владелец")] if with_owner else header


def stats_rows(*, user: User, owner: User | None, with_owner: bool) -> Iterator[list[Any]]:
    for mailing in stats_per_mailing(user=user, owner=owner).iterator(chunk_size=CHUNK):
        figures: Any = mailing  # the annotations of stats_per_mailing
        row = [
            mailing.pk,
            mailing.message.subject,
            figures.attempts_total,
            figures.attempts_success,
            figures.attempts_failure,
            figures.delivered,  # sent minus bounced, as on the statistics page
            figures.bounced,
            figures.undelivered,
        ]
        yield [*row, mailing.owner.email] if with_owner else row
