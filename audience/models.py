"""Lists of recipients and the record of every import (ARCHITECTURE.md, "Audience")."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mailings.models import Recipient


class List(models.Model):
    """Список: a named group of one owner's recipients; a recipient may be in several."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("владелец"), on_delete=models.CASCADE, related_name="recipient_lists"
    )
    name = models.CharField(_("название"), max_length=120)
    members = models.ManyToManyField(Recipient, verbose_name=_("участники"), related_name="lists", blank=True)
    created_at = models.DateTimeField(_("создан"), auto_now_add=True)
    updated_at = models.DateTimeField(_("изменён"), auto_now=True)

    class Meta:
        verbose_name = _("список")
        verbose_name_plural = _("списки")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("name"),
                name="list_name_unique_per_owner",
                violation_error_message=_("У вас уже есть список с таким названием."),
            ),
        ]
        permissions = [
            ("view_all_lists", _("Может просматривать списки, импорты и выгрузки всех пользователей")),
        ]

    def __str__(self) -> str:
        return self.name


def _import_upload_to(instance: "Import", filename: str) -> str:
    # The user's file name is kept in `file_name`; on disk a name of ours, never theirs.
    return f"imports/{instance.owner_id}/{instance.token}"


class Import(models.Model):
    """One import of a CSV or XLSX file: who, when, which file, the mapping, progress and counts."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Ожидает подтверждения")
        QUEUED = "queued", _("В очереди")
        RUNNING = "running", _("Выполняется")
        DONE = "done", _("Завершён")
        FAILED = "failed", _("Не выполнен")

    class Policy(models.TextChoices):
        SKIP = "skip", _("Пропустить (оставить как есть)")
        UPDATE = "update", _("Обновить имя и комментарий")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("владелец"), on_delete=models.CASCADE, related_name="imports"
    )
    token = models.CharField(max_length=32, unique=True, editable=False)
    file = models.FileField(_("файл"), upload_to=_import_upload_to, max_length=255, blank=True)
    file_name = models.CharField(_("имя файла"), max_length=255)
    file_format = models.CharField(_("формат"), max_length=8, choices=Format.choices)
    encoding = models.CharField(_("кодировка"), max_length=32, blank=True)
    delimiter = models.CharField(_("разделитель"), max_length=4, blank=True)
    # Mapping: 0-based column numbers, None when the column is not imported.
    has_header = models.BooleanField(_("первая строка — заголовки"), default=True)
    email_column = models.PositiveSmallIntegerField(_("столбец email"), null=True, blank=True)
    full_name_column = models.PositiveSmallIntegerField(_("столбец Ф. И. О."), null=True, blank=True)
    comment_column = models.PositiveSmallIntegerField(_("столбец комментария"), null=True, blank=True)
    list_column = models.PositiveSmallIntegerField(_("столбец списка"), null=True, blank=True)
    target_list = models.ForeignKey(
        List, verbose_name=_("добавить всех в список"), null=True, blank=True, on_delete=models.SET_NULL
    )
    policy = models.CharField(_("уже известные адреса"), max_length=8, choices=Policy.choices, default=Policy.SKIP)
    status = models.CharField(_("статус"), max_length=16, choices=Status.choices, default=Status.UPLOADED)
    error = models.CharField(_("ошибка"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("загружен"), auto_now_add=True)
    started_at = models.DateTimeField(_("начат"), null=True, blank=True)
    finished_at = models.DateTimeField(_("завершён"), null=True, blank=True)
    rows_total = models.PositiveIntegerField(_("строк прочитано"), default=0)
    created_count = models.PositiveIntegerField(_("добавлено"), default=0)
    updated_count = models.PositiveIntegerField(_("обновлено"), default=0)
    existing_count = models.PositiveIntegerField(_("уже были"), default=0)
    invalid_count = models.PositiveIntegerField(_("неверных адресов"), default=0)
    duplicate_count = models.PositiveIntegerField(_("повторов в файле"), default=0)
    file_size = models.PositiveBigIntegerField(_("размер файла"), default=0)
    bytes_done = models.PositiveBigIntegerField(_("прочитано байт"), default=0)
    # Set when queued and at every chunk read: an import whose worker died stops moving (see is_stalled).
    progress_at = models.DateTimeField(_("последний ход"), null=True, blank=True)

    class Meta:
        verbose_name = _("импорт")
        verbose_name_plural = _("импорты")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.file_name

    @property
    def rejected_count(self) -> int:
        return self.existing_count + self.invalid_count + self.duplicate_count

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def is_stalled(self) -> bool:
        """Queued or running, and nothing moved for IMPORT_STALL_SECONDS: its worker was killed, or none runs."""
        limit = timezone.now() - timedelta(seconds=settings.IMPORT_STALL_SECONDS)
        return self.is_active and (self.progress_at is None or self.progress_at < limit)

    ERRORS = {
        "unreadable": _("Файл не удалось прочитать до конца: проверьте, что это таблица CSV в UTF-8 или XLSX."),
        "too_many_rows": _("В файле слишком много строк."),
        "error": _("Внутренняя ошибка: ничего не загружено. Попробуйте ещё раз."),
        "stopped": _("Импорт остановлен: он долго не продвигался."),
    }

    @property
    def error_text(self) -> str:
        return str(self.ERRORS.get(self.error, self.ERRORS["error"])) if self.error else ""

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.file_size:
            return 0
        return min(99, self.bytes_done * 100 // self.file_size)


class ImportRow(models.Model):
    """A staged row of an import: written while the file is read, applied in one transaction at the end.

    Rows that were applied are deleted then; the rejected ones stay as the downloadable report.
    """

    class Outcome(models.TextChoices):
        NEW = "new", _("новый")
        UPDATE = "update", _("обновить")
        EXISTS = "exists", _("уже есть")
        INVALID = "invalid", _("неверный адрес")
        EMPTY = "empty", _("нет адреса")
        DUPLICATE = "duplicate", _("повтор в файле")

    REJECTED = (Outcome.EXISTS, Outcome.INVALID, Outcome.EMPTY, Outcome.DUPLICATE)

    # No index of its own: both indexes below start with it (each index costs 100,000 writes an import).
    import_job = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="rows", db_index=False)
    line = models.PositiveIntegerField()
    email = models.CharField(max_length=320)
    email_key = models.CharField(max_length=320)
    full_name = models.CharField(max_length=255, blank=True)
    comment = models.TextField(blank=True)
    list_name = models.CharField(max_length=120, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)

    class Meta:
        indexes = [
            # The apply step and the report read one import's rows by outcome.
            models.Index(fields=["import_job", "outcome", "line"], name="importrow_outcome_idx"),
            # The apply step finds an address's earlier occurrences in the file (duplicates).
            models.Index(fields=["import_job", "email_key", "line"], name="importrow_email_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.line}: {self.email}"
