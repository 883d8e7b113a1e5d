"""Streamed tables: CSV (UTF-8 with BOM, so Excel opens Cyrillic) and XLSX (openpyxl, write-only).

Rows come from an iterator and are never held together: CSV goes out as it is produced; an XLSX, a zip
archive, is written row by row to a temporary file (write-only mode keeps one row in memory) and that
file is streamed. 100,000 rows need no more memory than 1,000.
"""

import codecs
import csv
import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse

logger = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Line:
    """A file-like object for csv.writer that hands back the line it was given."""

    def write(self, value: str) -> str:
        return value


def _csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    writer = csv.writer(_Line())
    yield codecs.BOM_UTF8 + writer.writerow(header).encode()
    buffer: list[str] = []
    for row in rows:
        buffer.append(writer.writerow(["" if value is None else _safe(value) for value in row]))
        if len(buffer) >= 500:
            yield "".join(buffer).encode()
            buffer = []
    if buffer:
        yield "".join(buffer).encode()


def _safe(value: Any) -> Any:
    """Text that a spreadsheet would take for a formula (=, +, -, @) is written with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _xlsx_value(value: Any) -> Any:
    if hasattr(value, "tzinfo") and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones: local time, as the pages show it
    return _safe(value)


def table_response(
    *, file_format: str, file_name: str, header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "Vestnik"
) -> HttpResponseBase:
    """The table as a download, streamed; `file_name` without the extension."""
    if file_format == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=title[:31])
        sheet.append(list(header))
        for row in rows:
            sheet.append([_xlsx_value(value) for value in row])
        handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by FileResponse once streamed
        workbook.save(handle)
        handle.seek(0)
        return FileResponse(handle, as_attachment=True, filename=f"{file_name}.xlsx", content_type=XLSX_TYPE)
    response = StreamingHttpResponse(_csv_chunks(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}.csv"'
    return response
