"""Imports: detection (encoding, delimiter, XLSX), the refusals, preview and mapping, the background run,
counts and the rejected-rows report, the existing-address policy, lists from the file, all or nothing."""

import codecs
import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from audience.imports.reading import sniff
from audience.imports.services import import_run
from audience.models import Import, ImportRow, List
from mailings.models import Recipient
from mailings.tests.world import make_recipient
from tests.support import run_tasks
from users.models import User

pytestmark = pytest.mark.django_db

ROWS = [
    ["Email", "ФИО", "Комментарий", "Список"],
    ["  Anna@Example.com ", "Анна Смирнова", "постоянная", "Постоянные клиенты"],
    ["boris@example.com", "Борис", "", "Новые"],
    ["not-an-address", "Никто", "", "Новые"],
    ["ANNA@example.com", "Анна ещё раз", "", "Новые"],
    ["", "Без адреса", "", ""],
    ["known@example.com", "Известный Новый", "обновлён", "Новые"],
]


def _csv(rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return codecs.BOM_UTF8 + data if bom else data


def _xlsx(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _upload(client: Client, data: bytes, name: str = "clients.csv") -> Any:
    return client.post(reverse("audience:import_create"), {"file": SimpleUploadedFile(name, data)})


def _body(response: Any) -> bytes:
    """A streamed download, whole."""
    return b"".join(response.streaming_content)


def _confirm(client: Client, url: str, capture: Any, **overrides: object) -> Any:
    """Confirm the mapping; the task is enqueued once the request's transaction commits."""
    with capture(execute=True):
        return client.post(url, _mapping(**overrides))


def _mapping(**overrides: object) -> dict[str, object]:
    data = {
        "has_header": "on",
        "email_column": 0,
        "full_name_column": 1,
        "comment_column": 2,
        "list_column": 3,
        "target_list": "",
        "policy": "skip",
        "consent-source": "website",
        "consent-source_note": "форма подписки на старом сайте",
        "consent-kinds": ["advertising", "personal_data"],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("encoding", "delimiter", "bom"),
    [("utf-8", ",", False), ("utf-8", ";", True), ("cp1251", ";", False), ("cp1251", "\t", False)],
)
def test_it_detects_the_encoding_and_the_delimiter(encoding: str, delimiter: str, bom: bool) -> None:
    info = sniff(io.BytesIO(_csv(ROWS, encoding=encoding, delimiter=delimiter, bom=bom)))
    assert info.file_format == "csv"
    assert info.delimiter == delimiter
    assert info.rows[1] == ROWS[1]  # Cyrillic read right
    assert info.encoding == ("utf-8-sig" if bom else encoding)


def test_it_reads_the_first_sheet_of_a_workbook() -> None:
    info = sniff(io.BytesIO(_xlsx(ROWS)))
    assert info.file_format == "xlsx" and info.rows[2][:2] == ["boris@example.com", "Борис"]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.csv", "пуст"),
        (b"\n\n  \n", "blank.csv", "Файл пуст."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "Это не таблица"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx", "Это не таблица"),
        ("имя;телефон\nАнна;+7 900\n".encode(), "phones.csv", "не нашлось столбца с адресами email"),
    ],
)
def test_it_refuses_what_it_cannot_import_with_a_clear_message(
    client: Client, owner: User, data: bytes, name: str, message: str
) -> None:
    client.force_login(owner)
    response = _upload(client, data, name)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Import.objects.exists()


def test_it_refuses_a_file_too_big(client: Client, owner: User, settings: object) -> None:
    settings.IMPORT_MAX_BYTES = 100  # type: ignore[attr-defined]
    client.force_login(owner)
    response = _upload(client, _csv(ROWS * 5))
    assert "Файл слишком большой" in response.content.decode()


def test_the_preview_shows_the_first_rows_and_guesses_the_columns(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = _upload(client, _csv(ROWS, encoding="cp1251", delimiter=";"))
    job = Import.objects.get()
    assert response.url == reverse("audience:import_detail", args=[job.pk])
    html = client.get(response.url).content.decode()
    assert "Анна Смирнова" in html and "Столбец 2: ФИО" in html
    assert (job.has_header, job.email_column, job.full_name_column, job.list_column) == (True, 0, 1, 3)
    assert job.status == Import.Status.UPLOADED and job.file_format == "csv"


def test_the_whole_import_runs_in_the_background_with_counts_lists_and_a_report(
    client: Client, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    make_recipient(owner, "Known@Example.com", full_name="Известный", comment="старый")
    vip = List.objects.create(owner=owner, name="VIP")
    client.force_login(owner)
    job_url = _upload(client, _csv(ROWS)).url
    job = Import.objects.get()

    response = _confirm(client, job_url, django_capture_on_commit_callbacks, target_list=vip.pk)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Import.Status.QUEUED
    assert "обновляется сама" in client.get(job_url).content.decode()
    run_tasks()

    job.refresh_from_db()
    assert job.status == Import.Status.DONE, job.error
    assert (job.rows_total, job.created_count, job.existing_count) == (6, 2, 1)
    assert (job.invalid_count, job.duplicate_count) == (2, 1)
    anna = owner.recipients.get(email="Anna@Example.com")  # trimmed, the case kept
    assert (anna.full_name, anna.comment) == ("Анна Смирнова", "постоянная")
    assert owner.recipients.get(email="Known@Example.com").full_name == "Известный"  # skip: left as it was
    lists = {item.name: sorted(item.members.values_list("email", flat=True)) for item in owner.recipient_lists.all()}
    assert lists == {
        "Постоянные клиенты": ["Anna@Example.com"],
        "Новые": ["boris@example.com"],
        "VIP": ["Anna@Example.com", "boris@example.com"],
    }
    html = client.get(job_url).content.decode()
    assert "Импорт завершён" in html
    report = _body(client.get(reverse("audience:import_rejected", args=[job.pk])))
    assert report.startswith(codecs.BOM_UTF8)
    lines = list(csv.reader(io.StringIO(report.decode("utf-8-sig"))))
    assert lines[1:] == [
        ["4", "not-an-address", "Никто", "", "Новые", "неверный адрес"],
        ["5", "ANNA@example.com", "Анна ещё раз", "", "Новые", "повтор в файле"],
        ["6", "", "Без адреса", "", "", "нет адреса"],
        ["7", "known@example.com", "Известный Новый", "обновлён", "Новые", "уже есть"],
    ]
    assert not ImportRow.objects.exclude(outcome__in=ImportRow.REJECTED).exists()  # the applied rows are gone
    assert "clients.csv" in client.get(reverse("audience:import_list")).content.decode()


def test_policy_update_changes_the_name_and_comment_of_known_addresses(
    client: Client, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    make_recipient(owner, "Known@Example.com", full_name="Известный", comment="старый")
    client.force_login(owner)
    job_url = _upload(client, _xlsx(ROWS), "clients.xlsx").url
    _confirm(client, job_url, django_capture_on_commit_callbacks, policy="update")
    run_tasks()

    job = Import.objects.get()
    assert job.status == Import.Status.DONE and (job.updated_count, job.existing_count) == (1, 0)
    known = owner.recipients.get(email="Known@Example.com")
    assert (known.full_name, known.comment) == ("Известный Новый", "обновлён")
    assert known.lists.get().name == "Новые"


def test_a_file_that_breaks_half_way_imports_nothing(
    client: Client, owner: User, settings: object, django_capture_on_commit_callbacks: Any
) -> None:
    settings.IMPORT_MAX_ROWS = 7000  # type: ignore[attr-defined]
    rows = [["email"]] + [[f"user{i}@example.com"] for i in range(8000)]
    client.force_login(owner)
    job_url = _upload(client, _csv(rows)).url
    _confirm(
        client,
        job_url,
        django_capture_on_commit_callbacks,
        full_name_column=None,
        comment_column=None,
        list_column=None,
    )
    run_tasks()

    job = Import.objects.get()
    assert job.status == Import.Status.FAILED and job.error == "too_many_rows"
    assert not Recipient.objects.exists() and not ImportRow.objects.exists()
    assert "слишком много строк" in client.get(job_url).content.decode()


def test_bytes_that_stop_being_utf8_after_the_sample_fail_the_whole_import(
    client: Client, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    head = b"email\n" + b"".join(f"user{i}@example.com\n".encode() for i in range(5000))
    client.force_login(owner)
    job_url = _upload(client, head + "плохой@example.com\n".encode("cp1251")).url
    _confirm(
        client,
        job_url,
        django_capture_on_commit_callbacks,
        full_name_column=None,
        comment_column=None,
        list_column=None,
    )
    run_tasks()

    job = Import.objects.get()
    assert job.status == Import.Status.FAILED and job.error == "unreadable"
    assert not Recipient.objects.exists()


def test_a_confirmed_import_runs_once(client: Client, owner: User, django_capture_on_commit_callbacks: Any) -> None:
    client.force_login(owner)
    job_url = _upload(client, _csv(ROWS)).url
    _confirm(client, job_url, django_capture_on_commit_callbacks)
    client.post(job_url, _mapping())  # a double click
    job = Import.objects.get()
    assert import_run(import_id=job.pk) is not None
    assert import_run(import_id=job.pk) is None  # the task queued twice would find it done
    assert Recipient.objects.filter(owner=owner).count() == 3


def test_another_users_import_is_404_and_a_manager_only_reads_it(
    client: Client, owner: User, other_user: User, manager: User
) -> None:
    client.force_login(owner)
    job_url = _upload(client, _csv(ROWS)).url
    client.force_login(other_user)
    assert client.get(job_url).status_code == 404
    client.force_login(manager)
    assert client.get(job_url).status_code == 200
    assert client.post(job_url, _mapping()).status_code == 403
    assert Import.objects.get().status == Import.Status.UPLOADED


def test_the_rejected_rows_report_is_also_an_xlsx(
    client: Client, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(owner)
    job_url = _upload(client, _csv(ROWS)).url
    _confirm(client, job_url, django_capture_on_commit_callbacks)
    run_tasks()
    job = Import.objects.get()
    response = client.get(reverse("audience:import_rejected", args=[job.pk]), {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(_body(response)), read_only=True).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[1][:2] == [4, "not-an-address"] and len(values) == 4


def test_a_stalled_import_can_be_stopped_and_a_late_worker_then_writes_nothing(
    client: Client, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    import time_machine
    from django.utils import timezone

    client.force_login(owner)
    job_url = _upload(client, _csv(ROWS)).url
    _confirm(client, job_url, django_capture_on_commit_callbacks)  # queued; say no worker picks it up
    job = Import.objects.get()
    client.post(job_url, {"action": "stop"})
    assert Import.objects.get().status == Import.Status.QUEUED  # not stalled yet: it stays queued
    assert "Остановить импорт" not in client.get(job_url).content.decode()

    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert "Остановить импорт" in client.get(job_url).content.decode()
        response = client.post(job_url, {"action": "stop"}, follow=True)

    assert "Импорт остановлен" in response.content.decode()
    job.refresh_from_db()
    assert (job.status, job.error) == (Import.Status.FAILED, "stopped")
    assert import_run(import_id=job.pk) is None  # the queued task, if it ever runs, finds nothing to do
    assert not Recipient.objects.exists()


def test_a_running_import_stopped_meanwhile_rolls_its_chunk_back(owner: User, monkeypatch: Any) -> None:
    from audience.imports import services

    rows = [["email"]] + [[f"user{i}@example.com"] for i in range(25_000)]
    job = Import.objects.create(
        owner=owner,
        token="t",
        file_name="big.csv",
        file_format="csv",
        encoding="utf-8",
        delimiter=",",
        email_column=0,
        status=Import.Status.QUEUED,
    )
    job.file.save("t", SimpleUploadedFile("big.csv", _csv(rows)))
    real = services._classified

    def stopped_after_the_first_chunk(*args: Any, **kwargs: Any) -> Any:
        for n, chunk in enumerate(real(*args, **kwargs)):
            if n == 1:  # another request stopped it as stalled
                Import.objects.filter(pk=job.pk).update(status=Import.Status.FAILED, error="stopped")
            yield chunk

    monkeypatch.setattr(services, "_classified", stopped_after_the_first_chunk)
    import_run(import_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.error) == (Import.Status.FAILED, "stopped")
    assert not Recipient.objects.exists() and not ImportRow.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_staging_skips_fsync_and_the_apply_gets_the_configured_durability(
    owner: User,
) -> None:
    from django.db import connection

    from audience.imports import services

    def synchronous() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous")
            return int(cursor.fetchone()[0])

    if connection.vendor != "sqlite":
        pytest.skip("a SQLite setting")
    configured = synchronous()
    seen: list[int] = []
    real_apply, real_stage = services._apply, services._stage

    def watched_apply(job: Import) -> None:
        seen.append(synchronous())
        real_apply(job)

    def watched_stage(job: Import, handle: Any) -> None:
        seen.append(synchronous())
        real_stage(job, handle)

    job = Import.objects.create(
        owner=owner,
        token="t",
        file_name="c.csv",
        file_format="csv",
        encoding="utf-8",
        delimiter=",",
        email_column=0,
        has_header=False,
        status=Import.Status.QUEUED,
    )
    job.file.save("t", SimpleUploadedFile("c.csv", b"a@example.com\nb@example.com\n"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "_apply", watched_apply)
        patch.setattr(services, "_stage", watched_stage)
        services.import_run(import_id=job.pk)

    assert seen == [1, configured] and synchronous() == configured  # 1: NORMAL
    assert Import.objects.get().created_count == 2
