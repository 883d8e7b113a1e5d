"""Log formatting: one JSON object per line, with secrets redacted."""

import json
import logging
from datetime import UTC, datetime

from django.conf import settings

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _secrets() -> list[str]:
    values = [getattr(settings, "SECRET_KEY", ""), getattr(settings, "EMAIL_HOST_PASSWORD", "")]
    return [v for v in values if v and len(v) >= 4]


def redact(text: str) -> str:
    """Replace every configured secret (SECRET_KEY, SMTP password) with ***."""
    for secret in _secrets():
        text = text.replace(secret, "***")
    return text


class RedactSecretsFilter(logging.Filter):
    """Keeps the SMTP password and SECRET_KEY out of every log line, whatever logged them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not settings.configured:
            return True
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(formatted)
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """`{"time": ..., "level": ..., "logger": ..., "message": ..., <extra fields>}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


class ClientErrorWithoutTraceback(logging.Filter):
    """Drops the traceback from django.request's records of a 4xx answer (PermissionDenied, Http404...).

    Django logs them with the exception attached, so each refused manager URL filled the log with a stack.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
