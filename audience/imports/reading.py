"""Reading an uploaded table: CSV (encoding and delimiter detected) or XLSX (first sheet), row by row.

Nothing here is parsed by hand: csv and csv.Sniffer for the text, charset-normalizer when the bytes are
not UTF-8, openpyxl in read-only mode for workbooks. Rows come out as lists of strings, one at a time, so
a 100,000-row file needs no more memory than a 1,000-row one.
"""

import codecs
import csv
import io
import logging
import re
import zipfile
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import IO, Any

from charset_normalizer import from_bytes
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

SAMPLE_BYTES = 64 * 1024
PREVIEW_ROWS = 10
DELIMITERS = ",;\t"
# Cyrillic single-byte encodings a Russian spreadsheet may be saved in, when the file is not UTF-8.
FALLBACK_ENCODINGS = ["cp1251", "koi8_r"]
EMAIL_HEADERS = {"email", "e-mail", "e mail", "почта", "эл. почта", "электронная почта", "адрес", "mail"}
NAME_HEADERS = {"name", "full name", "full_name", "фио", "ф. и. о.", "ф.и.о.", "имя", "получатель"}
COMMENT_HEADERS = {"comment", "комментарий", "примечание", "note"}
LIST_HEADERS = {"list", "список", "группа", "group"}

csv.field_size_limit(1024 * 1024)


class _EmailValidator(EmailValidator):
    """Django's EmailValidator, its patterns compiled up front: the lazy ones cost a proxy call per use
    (a fifth of an import's time at 100,000 rows). Same patterns, same verdicts."""

    user_regex = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
    domain_regex = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
    literal_regex = re.compile(EmailValidator.literal_regex.pattern, EmailValidator.literal_regex.flags)


_validate_email = _EmailValidator()


class NotATable(Exception):
    """The file cannot be read as a table; the message says why, for the person who sent it."""


@dataclass
class TableInfo:
    file_format: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""
    rows: list[list[str]] = field(default_factory=list)  # the first rows, header included

    @property
    def width(self) -> int:
        return max((len(row) for row in self.rows), default=0)


def is_email(value: str) -> bool:
    try:
        _validate_email(value.strip())
    except ValidationError:
        return False
    return True


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) when the sample decodes as such, else the best Cyrillic guess."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # A multi-byte character may be cut at the end of the sample: not final.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample, cp_isolation=FALLBACK_ENCODINGS).best()
    return best.encoding if best is not None else FALLBACK_ENCODINGS[0]


def _sniff_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        # One column (a plain list of addresses), or rows too irregular to tell: count instead.
        counts = {d: sum(line.count(d) for line in lines) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def sniff(upload: IO[bytes]) -> TableInfo:
    """The format, encoding, delimiter and first rows of an uploaded file; NotATable if it is none."""
    upload.seek(0)
    head = upload.read(SAMPLE_BYTES)
    upload.seek(0)
    if not head:
        raise NotATable(_("Файл пуст."))
    if head.startswith(b"PK\x03\x04"):
        info = TableInfo(file_format="xlsx")
        info.rows = [row for row, _done in _xlsx_rows(upload, limit=PREVIEW_ROWS + 1)]
    else:
        if b"\x00" in head:
            raise NotATable(_("Это не таблица: загрузите файл CSV или XLSX."))
        encoding = detect_encoding(head)
        text = head.decode(encoding, errors="replace")
        if len(head) == SAMPLE_BYTES:
            text = text.rsplit("\n", 1)[0]  # the last line may be cut
        info = TableInfo(file_format="csv", encoding=encoding, delimiter=_sniff_delimiter(text))
        info.rows = [row for row, _done in _csv_rows(upload, info.encoding, info.delimiter, limit=PREVIEW_ROWS + 1)]
    upload.seek(0)
    info.rows = [row for row in info.rows if any(cell.strip() for cell in row)]
    if not info.rows:
        raise NotATable(_("Файл пуст."))
    return info


def _csv_rows(
    upload: IO[bytes], encoding: str, delimiter: str, *, limit: int | None = None
) -> Generator[tuple[list[str], float], None, None]:
    upload.seek(0, io.SEEK_END)
    size = upload.tell() or 1
    upload.seek(0)
    text = io.TextIOWrapper(upload, encoding=encoding, errors="strict", newline="")
    done = 0.0
    try:
        for n, row in enumerate(csv.reader(text, delimiter=delimiter)):
            if limit is not None and n >= limit:
                break
            if not n % 1000:  # the progress bar needs no more, and tell() per row is a tenth of the reading
                done = min(upload.tell() / size, 1.0)
            yield row, done
    except UnicodeDecodeError as exc:
        raise NotATable(
            _("Файл не читается в кодировке %(encoding)s: сохраните его в UTF-8.") % {"encoding": encoding}
        ) from exc
    except csv.Error as exc:
        raise NotATable(_("Это не таблица: загрузите файл CSV или XLSX.")) from exc
    finally:
        if not upload.closed:
            text.detach()  # leave the upload open for its owner


def _xlsx_rows(upload: IO[bytes], *, limit: int | None = None) -> Generator[tuple[list[str], float], None, None]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(upload, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise NotATable(_("Это не таблица: загрузите файл CSV или XLSX.")) from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        total = sheet.max_row or 0
        for n, values in enumerate(sheet.iter_rows(values_only=True)):
            if limit is not None and n >= limit:
                break
            yield [_cell(v) for v in values], min((n + 1) / total, 1.0) if total else 0.0
    finally:
        workbook.close()


def rows(
    upload: IO[bytes], *, file_format: str, encoding: str, delimiter: str
) -> Generator[tuple[list[str], float], None, None]:
    """Every row of the file and the share of the file read so far (for the progress bar)."""
    if file_format == "xlsx":
        return _xlsx_rows(upload)
    return _csv_rows(upload, encoding, delimiter)


def guess_mapping(info: TableInfo) -> dict[str, Any]:
    """A first guess of the header row and the columns, from the header names and the values."""
    first = [cell.strip().lower() for cell in info.rows[0]]
    data = info.rows[1:] if len(info.rows) > 1 else info.rows
    # A header names its columns: no address in it, and something in it.
    has_header = not any(is_email(cell) for cell in info.rows[0]) and any(first)
    if not has_header:
        data = info.rows

    def by_header(names: set[str]) -> int | None:
        if not has_header:
            return None
        return next((i for i, cell in enumerate(first) if cell in names), None)

    email = by_header(EMAIL_HEADERS)
    if email is None:
        scores: list[int] = [sum(is_email(row[i]) for row in data if i < len(row)) for i in range(info.width)]
        best = max(range(info.width), key=scores.__getitem__) if scores else None
        email = best if best is not None and scores[best] else None
    return {
        "has_header": has_header,
        "email_column": email,
        "full_name_column": by_header(NAME_HEADERS),
        "comment_column": by_header(COMMENT_HEADERS),
        "list_column": by_header(LIST_HEADERS),
    }


def column_names(info: TableInfo, *, has_header: bool) -> list[str]:
    names = []
    for i in range(info.width):
        header = info.rows[0][i].strip() if has_header and i < len(info.rows[0]) else ""
        names.append(_("Столбец %(n)s") % {"n": i + 1} + (f": {header}" if header else ""))
    return names
