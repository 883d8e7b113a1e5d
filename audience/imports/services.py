"""Imports of recipients from a file: upload (checked, previewed), confirm (queued), run (background task).

All or nothing, by staging: the task reads the file in chunks; each row is trimmed and checked with Django's
EmailValidator (invalid, empty) and each chunk is written to ImportRow in its own short transaction (short
write locks on SQLite; the progress is visible to the page). Then ONE transaction, in a few set-based
statements, marks the addresses the owner already has and the duplicates inside the file (compared in
lower case; the first occurrence wins), inserts the new recipients, updates the known ones (policy
"update"), creates the lists named in the file and fills them, and deletes the applied staging rows. If
anything fails, the staging rows are deleted and nothing else was written; the rejected rows stay as the
import's report. Memory stays flat: rows are never all held in Python.
"""

import logging
import secrets
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from audience.imports.reading import NotATable, TableInfo, guess_mapping, is_email, rows, sniff
from audience.models import Import, ImportRow, List
from consents.services import consent_records_for_import
from core.data_versions import data_version_bump
from mailings.models import Recipient
from users.models import User

logger = logging.getLogger(__name__)

CHUNK_ROWS = 10_000
_MAX = {"email": 320, "full_name": 255, "comment": 2000, "list_name": 120}


class ImportRefused(Exception):
    """The file cannot be imported; the message says why, for the person who sent it."""


class ImportFailed(Exception):
    """The import stopped; `code` is stored on the record and translated when shown."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def import_upload(*, owner: User, upload: UploadedFile) -> tuple[Import, TableInfo]:
    """Check the file (a table with an email column, not too big), keep it, and record the import."""
    if upload.size is not None and upload.size > settings.IMPORT_MAX_BYTES:
        raise ImportRefused(
            _("Файл слишком большой: не больше %(mb)s МБ.") % {"mb": settings.IMPORT_MAX_BYTES // (1024 * 1024)}
        )
    try:
        info = sniff(upload)
    except NotATable as exc:
        raise ImportRefused(str(exc)) from exc
    guess = guess_mapping(info)
    if guess["email_column"] is None:
        raise ImportRefused(_("В файле не нашлось столбца с адресами email."))
    job = Import(
        owner=owner,
        token=secrets.token_hex(16),
        file_name=(upload.name or "")[-255:],
        file_format=info.file_format,
        encoding=info.encoding,
        delimiter=info.delimiter,
        file_size=upload.size or 0,
        **guess,
    )
    job.file.save(job.token, upload, save=False)
    job.save()
    data_version_bump(owner_id=owner.pk)
    logger.info("import uploaded: owner=%s import=%s format=%s", owner.pk, job.pk, job.file_format)
    return job, info


def import_preview(*, job: Import) -> TableInfo:
    with job.file.open("rb") as handle:
        return sniff(handle)


def import_run(*, import_id: int) -> Import | None:
    """Run a queued import to its end; None if another worker has it (or it is not queued)."""
    now = timezone.now()
    if not Import.objects.filter(pk=import_id, status=Import.Status.QUEUED).update(
        status=Import.Status.RUNNING, started_at=now, progress_at=now
    ):
        return None
    data_version_bump(owner_id=Import.objects.values_list("owner_id", flat=True).get(pk=import_id))  # «Выполняется»
    job = Import.objects.select_related("owner", "target_list").get(pk=import_id)
    try:
        with job.file.open("rb") as handle, _staging_durability():
            _stage(job, handle)
        _apply(job)
    except Exception as exc:
        code = exc.code if isinstance(exc, ImportFailed) else ("unreadable" if isinstance(exc, NotATable) else "error")
        if code == "error":
            logger.exception("import failed: import=%s", job.pk)
        else:
            logger.warning("import failed: import=%s code=%s", job.pk, code)
        ImportRow.objects.filter(import_job=job).delete()
        Import.objects.filter(pk=job.pk, status=Import.Status.RUNNING).update(
            status=Import.Status.FAILED, error=code, finished_at=timezone.now()
        )
    _drop_file(job)
    data_version_bump(owner_id=job.owner_id)
    job.refresh_from_db()
    logger.info("import finished: import=%s status=%s created=%s", job.pk, job.status, job.created_count)
    return job


def import_stop(*, job: Import) -> bool:
    """Mark a stalled import failed ("stopped") so that its owner can start again; False if it is not stalled.

    A task that was only slow and still runs finds the import no longer running at its next write and
    rolls back: nothing is half-imported either way.
    """
    limit = timezone.now() - timedelta(seconds=settings.IMPORT_STALL_SECONDS)
    stalled = Q(progress_at__isnull=True) | Q(progress_at__lt=limit)
    stopped = Import.objects.filter(
        stalled, pk=job.pk, status__in=[Import.Status.QUEUED, Import.Status.RUNNING]
    ).update(status=Import.Status.FAILED, error="stopped", finished_at=timezone.now())
    if not stopped:
        return False
    ImportRow.objects.filter(import_job=job).delete()
    _drop_file(job)
    data_version_bump(owner_id=job.owner_id)
    logger.warning("import stopped as stalled: import=%s", job.pk)
    return True


@contextmanager
def _staging_durability() -> Iterator[None]:
    """SQLite: no fsync per staged chunk (synchronous=NORMAL), the configured durability again for the apply.

    Staged rows need not survive a power loss: the import would fail and be started again. The one commit
    that matters, the apply, is made with the configured SQLITE_SYNCHRONOUS.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield  # (inside a transaction each chunk is not committed on its own anyway, and SQLite refuses the pragma)
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        configured = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous = {int(configured)}")


def _drop_file(job: Import) -> None:
    # The record and the report stay; the uploaded file is not needed once the import is over.
    try:
        job.file.delete(save=False)
        Import.objects.filter(pk=job.pk).update(file="")
    except OSError:
        logger.warning("import file not deleted: import=%s", job.pk, exc_info=True)


def _value(row: list[str], column: int | None, limit: int) -> str:
    if column is None or column >= len(row):
        return ""
    return row[column].strip()[:limit]


def _classified(job: Import, handle: IO[bytes]) -> Iterator[tuple[list[tuple[Any, ...]], float]]:
    """Chunks of staging rows (addresses checked; known ones and duplicates are found later, in SQL) and the
    share of the file read."""
    source = rows(handle, file_format=job.file_format, encoding=job.encoding, delimiter=job.delimiter)
    with closing(source):  # a stop half-way closes the reader now, while the file is open
        yield from _classify(job, source)


def _classify(job: Import, source: Iterable[tuple[list[str], float]]) -> Iterator[tuple[list[tuple[Any, ...]], float]]:
    chunk: list[tuple[Any, ...]] = []
    done = 0.0
    offset = 2 if job.has_header else 1  # line numbers as a spreadsheet shows them
    for number, (row, done) in enumerate(source):
        if number == 0 and job.has_header:
            continue
        if not any(cell.strip() for cell in row):
            continue
        if number + 1 > settings.IMPORT_MAX_ROWS + (1 if job.has_header else 0):
            raise ImportFailed("too_many_rows")
        email = _value(row, job.email_column, _MAX["email"])
        if not email:
            outcome = ImportRow.Outcome.EMPTY
        elif not is_email(email):
            outcome = ImportRow.Outcome.INVALID
        else:
            outcome = ImportRow.Outcome.NEW
        chunk.append(
            (
                job.pk,
                number + offset - (1 if job.has_header else 0),
                email,
                email.lower(),
                _value(row, job.full_name_column, _MAX["full_name"]),
                _value(row, job.comment_column, _MAX["comment"]),
                _value(row, job.list_column, _MAX["list_name"]),
                outcome,
            )
        )
        if len(chunk) >= CHUNK_ROWS:
            yield chunk, done
            chunk = []
    if chunk:
        yield chunk, done


_STAGE_COLUMNS = ["import_job_id", "line", "email", "email_key", "full_name", "comment", "list_name", "outcome"]


def _stage(job: Import, handle: IO[bytes]) -> None:
    q = connection.ops.quote_name
    table = q(ImportRow._meta.db_table)
    columns, values = ", ".join(q(c) for c in _STAGE_COLUMNS), ", ".join(["%s"] * len(_STAGE_COLUMNS))
    insert = f"INSERT INTO {table} ({columns}) VALUES ({values})"
    total = 0
    for chunk, done in _classified(job, handle):
        total += len(chunk)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(insert, chunk)
            moved = Import.objects.filter(pk=job.pk, status=Import.Status.RUNNING).update(
                rows_total=total, bytes_done=int(job.file_size * done), progress_at=timezone.now()
            )
            if not moved:
                raise ImportFailed("stopped")  # stopped as stalled meanwhile (import_stop): this chunk rolls back
    job.rows_total = total


def _apply(job: Import) -> None:
    """Everything the import changes, in one transaction."""
    staged = ImportRow.objects.filter(import_job=job)
    valid = [ImportRow.Outcome.NEW, ImportRow.Outcome.UPDATE, ImportRow.Outcome.EXISTS]
    q = connection.ops.quote_name
    table = q(ImportRow._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The first occurrence of an address in the file wins; later ones are duplicates.
            cursor.execute(
                f"UPDATE {table} SET {q('outcome')} = %s "
                f"WHERE {q('import_job_id')} = %s AND {q('outcome')} IN (%s, %s, %s) "
                f"AND EXISTS (SELECT 1 FROM {table} o WHERE o.{q('import_job_id')} = %s "
                f"AND o.{q('email_key')} = {table}.{q('email_key')} AND o.{q('line')} < {table}.{q('line')} "
                f"AND o.{q('outcome')} IN (%s, %s, %s))",
                [ImportRow.Outcome.DUPLICATE, job.pk, *valid, job.pk, *valid],
            )
            # Addresses the owner already has: one statement over the (owner, lower(email)) index; `|| ''`
            # strips the column's text affinity, without which SQLite would not use that index for a join.
            known = ImportRow.Outcome.UPDATE if job.policy == Import.Policy.UPDATE else ImportRow.Outcome.EXISTS
            recipients = q(Recipient._meta.db_table)
            cursor.execute(
                f"UPDATE {table} SET {q('outcome')} = %s WHERE {q('import_job_id')} = %s AND {q('outcome')} = %s "
                f"AND EXISTS (SELECT 1 FROM {recipients} r WHERE r.{q('owner_id')} = %s "
                f"AND LOWER(r.{q('email')}) = ({table}.{q('email_key')} || ''))",
                [known, job.pk, ImportRow.Outcome.NEW, job.owner_id],
            )
        created = _insert_new(job)
        updated = _update_known(job) if job.policy == Import.Policy.UPDATE else 0
        _fill_lists(job)
        consent_records_for_import(job=job)
        counts = dict(staged.order_by().values_list("outcome").annotate(n=Count("pk")))
        staged.filter(outcome__in=[ImportRow.Outcome.NEW, ImportRow.Outcome.UPDATE]).delete()
        applied = Import.objects.filter(pk=job.pk, status=Import.Status.RUNNING).update(
            status=Import.Status.DONE,
            finished_at=timezone.now(),
            bytes_done=job.file_size,
            created_count=created,
            updated_count=updated,
            existing_count=counts.get(ImportRow.Outcome.EXISTS, 0),
            invalid_count=counts.get(ImportRow.Outcome.INVALID, 0) + counts.get(ImportRow.Outcome.EMPTY, 0),
            duplicate_count=counts.get(ImportRow.Outcome.DUPLICATE, 0),
        )
        if not applied:
            raise ImportFailed("stopped")  # stopped as stalled while this ran: roll everything back


def _insert_new(job: Import) -> int:
    q = connection.ops.quote_name
    now = timezone.now()
    recipient = q(Recipient._meta.db_table)
    staged = q(ImportRow._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {recipient} ({q('owner_id')}, {q('email')}, {q('full_name')}, {q('comment')}, "
            f"{q('created_at')}, {q('updated_at')}) "
            f"SELECT %s, {q('email')}, {q('full_name')}, {q('comment')}, %s, %s FROM {staged} "
            f"WHERE {q('import_job_id')} = %s AND {q('outcome')} = %s ORDER BY {q('import_job_id')}, {q('outcome')}, "
            f"{q('line')}",
            [job.owner_id, now, now, job.pk, ImportRow.Outcome.NEW],
        )
        return max(int(cursor.rowcount), 0)


def _update_known(job: Import) -> int:
    """Policy "update": the file's non-empty name and comment replace the known recipient's."""
    if job.full_name_column is None and job.comment_column is None:
        return 0
    updated = 0
    staged = ImportRow.objects.filter(import_job=job, outcome=ImportRow.Outcome.UPDATE).order_by("line")
    mine = Recipient.objects.filter(owner_id=job.owner_id).annotate(key=Lower("email"))
    last = 0
    while True:
        batch = list(staged.filter(line__gt=last).values("line", "email_key", "full_name", "comment")[:1000])
        if not batch:
            return updated
        last = batch[-1]["line"]
        by_key = {row["email_key"]: row for row in batch}
        changed = []
        for recipient in mine.filter(key__in=list(by_key)):
            row = by_key[recipient.key]
            if row["full_name"]:
                recipient.full_name = row["full_name"]
            if row["comment"]:
                recipient.comment = row["comment"]
            recipient.updated_at = timezone.now()
            changed.append(recipient)
        Recipient.objects.bulk_update(changed, ["full_name", "comment", "updated_at"])
        updated += len(changed)


def _fill_lists(job: Import) -> None:
    """Create the lists the file names (matched to the owner's case-insensitively) and add the rows' recipients."""
    applied = [ImportRow.Outcome.NEW, ImportRow.Outcome.UPDATE]
    names = (
        ImportRow.objects.filter(import_job=job, outcome__in=applied)
        .exclude(list_name="")
        .order_by()
        .values_list("list_name", flat=True)
        .distinct()
    )
    existing = {item.name.casefold(): item for item in List.objects.filter(owner_id=job.owner_id)}
    targets: list[tuple[int, str | None]] = []
    for name in names:
        item = existing.get(name.casefold())
        if item is None:
            item = List.objects.create(owner_id=job.owner_id, name=name)
            existing[name.casefold()] = item
        targets.append((item.pk, name))
    if job.target_list_id is not None:
        targets.append((job.target_list_id, None))
    through = List.members.through
    q = connection.ops.quote_name
    staged, recipient, members = (
        q(ImportRow._meta.db_table),
        q(Recipient._meta.db_table),
        q(through._meta.db_table),
    )
    for list_id, only_name in targets:
        condition, params = "", list[str]()
        if only_name is not None:
            condition, params = f" AND s.{q('list_name')} = %s", [only_name]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {members} ({q('list_id')}, {q('recipient_id')}) "
                f"SELECT %s, r.{q('id')} FROM {staged} s JOIN {recipient} r ON r.{q('owner_id')} = %s "
                # `|| ''` strips the column's text affinity: without it SQLite will not use the (owner, lower(email))
                # index for a join and scans the owner's recipients once per row.
                f"AND LOWER(r.{q('email')}) = (s.{q('email_key')} || '') "
                f"WHERE s.{q('import_job_id')} = %s AND s.{q('outcome')} IN (%s, %s){condition} "
                f"AND NOT EXISTS (SELECT 1 FROM {members} m "
                f"WHERE m.{q('list_id')} = %s AND m.{q('recipient_id')} = r.{q('id')})",
                [list_id, job.owner_id, job.pk, *applied, *params, list_id],
            )
