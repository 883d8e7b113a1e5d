"""Exports: recipients with their lists, an attempt's ledger and the statistics, as CSV (BOM) and XLSX, streamed."""

import codecs
import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from audience.models import List
from mailings.models import Attempt, Delivery
from mailings.tests.world import make_attempt, make_mailing, make_recipient
from users.models import User

pytestmark = pytest.mark.django_db


def _body(response: object) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def _csv(response: object) -> list[list[str]]:
    body = _body(response)
    assert body.startswith(codecs.BOM_UTF8)  # Excel opens Cyrillic right only with it
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _xlsx(response: object) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(_body(response)), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_recipients_export_with_their_lists_and_only_the_owners(client: Client, owner: User, other_user: User) -> None:
    anna = make_recipient(owner, "anna@example.com", full_name="Анна", comment="=1+1")
    make_recipient(owner, "boris@example.com", full_name="Борис")
    make_recipient(other_user, "theirs@example.com")
    for name in ("Постоянные", "VIP"):
        List.objects.create(owner=owner, name=name).members.add(anna)
    client.force_login(owner)

    response = client.get(reverse("audience:export_recipients"))

    assert response["Content-Disposition"].startswith('attachment; filename="recipients-')
    rows = _csv(response)
    assert rows[0][:4] == ["Эл. почта", "Ф. И. О.", "Комментарий", "Списки"]
    assert [row[:4] for row in rows[1:]] == [
        ["anna@example.com", "Анна", "'=1+1", "VIP, Постоянные"],  # never a formula in a spreadsheet
        ["boris@example.com", "Борис", "", ""],
    ]


def test_recipients_export_follows_the_search_and_is_also_xlsx(client: Client, owner: User) -> None:
    for i in range(3):
        make_recipient(owner, f"shop{i:04d}@example.com")
    make_recipient(owner, "friend@example.org")
    client.force_login(owner)
    rows = _xlsx(client.get(reverse("audience:export_recipients"), {"q": "shop", "format": "xlsx"}))
    assert [row[0] for row in rows[1:]] == ["shop0000@example.com", "shop0001@example.com", "shop0002@example.com"]


def test_a_large_export_is_read_by_chunks(client: Client, owner: User, django_assert_max_num_queries: Any) -> None:
    from mailings.models import Recipient

    Recipient.objects.bulk_create(Recipient(owner=owner, email=f"r{i:05d}@example.com") for i in range(4500))
    client.force_login(owner)
    # Three chunks of 2,000, two queries each (recipients, their lists), and the request's own few.
    with django_assert_max_num_queries(14):
        rows = _csv(client.get(reverse("audience:export_recipients")))
    assert len(rows) == 4501 and rows[-1][0] == "r04499@example.com"


def test_the_ledger_export_has_every_delivery_with_its_reply(client: Client, owner: User, other_user: User) -> None:
    mailing = make_mailing(owner)
    attempt = make_attempt(mailing, states=[Delivery.State.SENT, Delivery.State.FAILED])
    attempt.deliveries.filter(state=Delivery.State.FAILED).update(smtp_code=550, smtp_reply="550 5.1.1 User unknown")
    client.force_login(owner)

    rows = _csv(client.get(reverse("audience:export_attempt", args=[attempt.pk])))
    assert rows[0][:6] == ["Эл. почта", "Ф. И. О.", "Состояние", "Попыток", "Код SMTP", "Ответ сервера"]
    assert [row[2] for row in rows[1:]] == ["Доставлено", "Не доставлено"]
    assert rows[2][4:6] == ["550", "550 5.1.1 User unknown"]
    xlsx = _xlsx(client.get(reverse("audience:export_attempt", args=[attempt.pk]), {"format": "xlsx"}))
    assert xlsx[2][4] == 550

    client.force_login(other_user)
    assert client.get(reverse("audience:export_attempt", args=[attempt.pk])).status_code == 404


def test_the_statistics_export_and_a_managers_view_of_everyone(client: Client, owner: User, manager: User) -> None:
    mailing = make_mailing(owner)
    attempt = make_attempt(mailing, states=[Delivery.State.SENT, Delivery.State.SENT])
    client.force_login(owner)
    rows = _csv(client.get(reverse("audience:export_stats")))
    assert rows[0][5:8] == ["Доставлено", "Возвраты", "Не доставлено"]
    assert rows[1] == [str(mailing.pk), mailing.message.subject, "1", "1", "0", "2", "0", "0"]
    # A bounce moves a message from delivered to «Возвраты», the same counters as the statistics page.
    Delivery.objects.filter(pk=attempt.deliveries.order_by("pk")[0].pk).update(bounce=Delivery.Bounce.HARD)
    Attempt.objects.filter(pk=attempt.pk).update(bounced_count=1)
    rows = _csv(client.get(reverse("audience:export_stats")))
    assert rows[1][5:8] == ["1", "1", "0"]
    sheet = _xlsx(client.get(reverse("audience:export_stats") + "?format=xlsx"))
    assert sheet[0][5:8] == ["Доставлено", "Возвраты", "Не доставлено"] and sheet[1][5:8] == [1, 1, 0]

    client.force_login(manager)
    rows = _csv(client.get(reverse("audience:export_stats")))
    assert rows[0][-1] == "Владелец" and rows[1][-1] == "owner@example.com"
    recipients = _csv(client.get(reverse("audience:export_recipients")))
    assert recipients[0][-1] == "Владелец"
