import json
import logging

from pytest_django import Settings

from core.logs import JsonFormatter, RedactSecretsFilter


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("vestnik.test", logging.INFO, __file__, 1, message, args, None)


def test_the_smtp_password_and_secret_key_never_reach_a_log_line(settings: Settings) -> None:
    settings.EMAIL_HOST_PASSWORD = "app-password-123"
    record = _record("login failed for %s with %s", "user@example.com", "app-password-123")
    RedactSecretsFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "app-password-123" not in line
    assert "***" in line

    record = _record("key is %s", settings.SECRET_KEY)
    RedactSecretsFilter().filter(record)
    assert settings.SECRET_KEY not in JsonFormatter().format(record)


def test_it_redacts_secrets_in_tracebacks(settings: Settings) -> None:
    settings.EMAIL_HOST_PASSWORD = "app-password-123"
    try:
        raise RuntimeError("AUTH failed: app-password-123")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    RedactSecretsFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "app-password-123" not in line
    assert "RuntimeError" in json.loads(line)["exception"]


def test_a_line_is_one_parseable_json_object_with_extra_fields() -> None:
    record = _record("run started")
    record.mailing = 7
    payload = json.loads(JsonFormatter().format(record))
    assert payload["message"] == "run started"
    assert payload["level"] == "INFO"
    assert payload["mailing"] == 7
