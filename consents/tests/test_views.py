"""The owner's consent pages: wording versions, the subscribe form's settings, the evidence on the recipient page and
in the CSV exports; hand-added and imported recipients with the owner's stated source."""

import codecs
import csv
import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from audience.models import Import, List
from consents.models import ConsentRecord, ConsentWording, Kind, Method, Source, SubscribeForm
from consents.services import consent_record_add, consent_wording_update
from mailings.models import Recipient
from tests.support import run_tasks
from users.models import User


def _csv(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content)
    assert body.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(body[len(codecs.BOM_UTF8) :].decode())))


def test_the_wording_page_shows_the_defaults_and_saving_makes_a_new_version(client: Client, owner: User) -> None:
    client.force_login(owner)
    page = client.get(reverse("consents:wording_edit")).content.decode()
    assert "38-ФЗ" in page and "152-ФЗ" in page
    assert not ConsentWording.objects.exists()  # a GET writes nothing

    response = client.post(reverse("consents:wording_edit"), {"kind": "advertising", "text": "Согласен на акции."})
    client.post(reverse("consents:wording_edit"), {"kind": "advertising", "text": "Согласен на акции и скидки."})

    assert response.status_code == 302
    versions = list(ConsentWording.objects.filter(owner=owner).values_list("version", "text"))
    assert versions == [(2, "Согласен на акции и скидки."), (1, "Согласен на акции.")]


def test_an_empty_text_is_a_form_error(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(reverse("consents:wording_edit"), {"kind": "personal_data", "text": "  "})
    assert response.status_code == 200 and "is-invalid" in response.content.decode()
    assert not ConsentWording.objects.exists()


def test_another_owners_wording_version_is_404_and_a_manager_reads_it(
    client: Client, owner: User, other_user: User, manager: User
) -> None:
    wording = consent_wording_update(owner=owner, kind=Kind.ADVERTISING, text="Текст владельца")
    url = reverse("consents:wording_detail", args=[wording.pk])
    client.force_login(other_user)
    assert client.get(url).status_code == 404
    client.force_login(manager)
    assert "Текст владельца" in client.get(url).content.decode()


def test_the_owner_enables_the_form_and_gets_its_address_and_snippet(client: Client, owner: User) -> None:
    news = List.objects.create(owner=owner, name="Новости")
    client.force_login(owner)
    url = reverse("consents:subscribe_settings", args=[news.pk])
    assert "Включить форму" in client.get(url).content.decode()

    assert client.post(url, {"action": "enable"}).status_code == 302

    form = SubscribeForm.objects.get(recipient_list=news)
    page = client.get(url).content.decode()
    assert f"/subscribe/{form.token}/" in page
    assert "&lt;form method=&quot;post&quot;" in page  # the snippet, as text to copy
    assert "name=&quot;personal_data_version&quot; value=&quot;1&quot;" in page
    assert len(form.token) >= 32

    client.post(url, {"action": "disable"})
    form.refresh_from_db()
    assert not form.enabled
    client.post(url, {"action": "enable"})
    form.refresh_from_db()
    assert form.enabled and SubscribeForm.objects.count() == 1  # the same address: pasted snippets keep working


def test_a_manager_sees_the_settings_read_only(client: Client, owner: User, manager: User) -> None:
    news = List.objects.create(owner=owner, name="Новости")
    client.force_login(manager)
    url = reverse("consents:subscribe_settings", args=[news.pk])
    assert "Включить форму" not in client.get(url).content.decode()
    assert client.post(url, {"action": "enable"}).status_code == 403
    assert not SubscribeForm.objects.exists()


def test_adding_a_recipient_by_hand_records_the_stated_consents(client: Client, owner: User) -> None:
    client.force_login(owner)
    data = {
        "email": "anna@example.com",
        "full_name": "Анна",
        "consent-source": "paper",
        "consent-source_note": "анкета №17",
        "consent-kinds": ["personal_data"],
    }
    response = client.post(reverse("mailings:recipient_create"), data)

    recipient = Recipient.objects.get()
    assert response["Location"] == reverse("mailings:recipient_detail", args=[recipient.pk])
    [record] = ConsentRecord.objects.all()
    assert (record.kind, record.method, record.source, record.source_note) == (
        Kind.PERSONAL_DATA,
        Method.MANUAL,
        Source.PAPER,
        "анкета №17",
    )
    assert record.recipient == recipient and record.wording is None
    page = client.get(response["Location"]).content.decode()
    assert "анкета №17" in page and "Бумажная анкета" in page


def test_adding_a_recipient_without_a_source_is_refused(client: Client, owner: User) -> None:
    client.force_login(owner)
    for extra in ({}, {"consent-source": "other", "consent-kinds": "advertising"}, {"consent-source": "shop"}):
        data = {"email": "anna@example.com", "full_name": "Анна", **extra}
        response = client.post(reverse("mailings:recipient_create"), data)
        assert response.status_code == 200, extra
    assert not Recipient.objects.exists() and not ConsentRecord.objects.exists()


def test_the_recipient_export_has_the_exact_text_agreed_to_and_survives_deletion(
    client: Client, owner: User, other_user: User, manager: User
) -> None:
    wording = consent_wording_update(owner=owner, kind=Kind.ADVERTISING, text="=Скидки каждую неделю")
    recipient = Recipient.objects.create(owner=owner, email="Olga@example.com", full_name="Ольга")
    consent_record_add(
        owner_id=owner.pk,
        email="olga@example.com",
        kind=Kind.ADVERTISING,
        method=Method.FORM,
        wording=wording,
        ip="198.51.100.4",
        user_agent="Firefox/140",
    )
    recipient.delete()
    again = Recipient.objects.create(owner=owner, email="olga@example.com", full_name="Ольга")
    url = reverse("consents:export_recipient", args=[again.pk])
    client.force_login(owner)

    response = client.get(url)

    assert response["Content-Type"].startswith("text/csv")
    header, *rows = _csv(response)
    assert header[:4] == ["Когда", "Эл. почта", "Вид согласия", "Способ"]
    [row] = rows
    assert row[1] == "olga@example.com" and row[3] == "Форма подписки"
    assert row[6:10] == ["1", "'=Скидки каждую неделю", "198.51.100.4", "Firefox/140"]
    client.force_login(other_user)
    assert client.get(url).status_code == 404
    client.force_login(manager)
    assert client.get(url).status_code == 200


def test_the_address_book_export_has_only_the_owners_records(client: Client, owner: User, other_user: User) -> None:
    for user, address in ((owner, "a@example.com"), (owner, "b@example.com"), (other_user, "c@example.com")):
        consent_record_add(owner_id=user.pk, email=address, kind=Kind.PERSONAL_DATA, method=Method.API)
    client.force_login(owner)

    _header, *rows = _csv(client.get(reverse("consents:export_all")))

    assert sorted(row[1] for row in rows) == ["a@example.com", "b@example.com"]


def test_an_import_records_the_stated_consents_for_every_added_row(
    client: Client, owner: User, django_capture_on_commit_callbacks: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    Recipient.objects.create(owner=owner, email="known@example.com", full_name="Известный")
    client.force_login(owner)
    rows = "email;name\r\nnew1@example.com;Один\r\nNEW2@example.com;Два\r\nknown@example.com;Известный\r\nbad\r\n"
    upload = SimpleUploadedFile("clients.csv", rows.encode())
    response = client.post(reverse("audience:import_create"), {"file": upload})
    job = Import.objects.get()
    mapping = {"has_header": "on", "email_column": 0, "full_name_column": 1, "policy": "skip"}

    refused = client.post(response["Location"], mapping)
    assert refused.status_code == 200 and "is-invalid" in refused.content.decode()
    stated = {
        "consent-source": "event",
        "consent-source_note": "выставка",
        "consent-kinds": ["advertising", "personal_data"],
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(response["Location"], {**mapping, **stated})
    run_tasks()

    job.refresh_from_db()
    assert job.status == Import.Status.DONE and job.created_count == 2
    records = ConsentRecord.objects.order_by("email_key", "kind")
    assert [(r.email, r.kind) for r in records] == [
        ("new1@example.com", Kind.ADVERTISING),
        ("new1@example.com", Kind.PERSONAL_DATA),
        ("NEW2@example.com", Kind.ADVERTISING),
        ("NEW2@example.com", Kind.PERSONAL_DATA),
    ]
    assert all(r.method == Method.IMPORT and r.source == Source.EVENT and r.source_note == "выставка" for r in records)
    assert all(r.recipient is not None and r.recipient.email == r.email for r in records)
