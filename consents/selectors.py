"""Reads of consent evidence. Owners read their own; whoever may read everyone's recipients (managers) reads all."""

import logging
from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from consents.models import ConsentRecord, ConsentWording, Kind
from mailings.models import Recipient
from mailings.selectors import can_view_all_recipients
from users.models import User

logger = logging.getLogger(__name__)


def consent_records_visible_to(user: User) -> QuerySet[ConsentRecord]:
    records = ConsentRecord.objects.all()
    return records if can_view_all_recipients(user) else records.filter(owner=user)


def consent_wordings_visible_to(user: User) -> QuerySet[ConsentWording]:
    wordings = ConsentWording.objects.all()
    return wordings if can_view_all_recipients(user) else wordings.filter(owner=user)


def consent_records_of(recipient: Recipient) -> QuerySet[ConsentRecord]:
    """The recipient's records, and those of its address before it was deleted and added again."""
    return ConsentRecord.objects.filter(
        Q(recipient=recipient) | Q(owner_id=recipient.owner_id, email_key=recipient.email.lower())
    ).order_by("-created_at", "-pk")


def consent_wordings_history(*, owner: User, kind: str) -> QuerySet[ConsentWording]:
    return ConsentWording.objects.filter(owner=owner, kind=kind).order_by("-version")


def consent_export_header() -> list[str]:
    return [
        _("Когда"),
        _("Эл. почта"),
        _("Вид согласия"),
        _("Способ"),
        _("Источник"),
        _("Источник со слов владельца"),
        _("Версия текста"),
        _("Текст согласия"),
        _("IP-адрес"),
        _("Браузер"),
        _("Владелец"),
    ]


def consent_export_rows(records: QuerySet[ConsentRecord]) -> Iterator[list[Any]]:
    """Rows of the evidence export, streamed in chunks (an address book may hold 100,000 records)."""
    kinds, methods = dict(Kind.choices), dict(ConsentRecord._meta.get_field("method").choices or [])
    sources = dict(ConsentRecord._meta.get_field("source").choices or [])
    rows = records.select_related("wording", "owner").order_by("created_at", "pk")
    for record in rows.iterator(chunk_size=2000):
        wording = record.wording
        yield [
            timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M:%S %z"),
            record.email,
            str(kinds.get(record.kind, record.kind)),
            str(methods.get(record.method, record.method)),
            str(sources.get(record.source, record.source)) if record.source else "",
            record.source_note,
            wording.version if wording else "",
            wording.text if wording else "",
            record.ip or "",
            record.user_agent,
            record.owner.email,
        ]
