import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # The test settings put relaxed values into os.environ; a real deployment has none of them.
    dropped = {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE"}
    dropped |= {"CSRF_COOKIE_SECURE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_missing_secret_key_stops_start_up_with_a_clear_message() -> None:
    result = _manage("check", DEBUG="false", SECRET_KEY_FILE="/nonexistent/secret_key")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_settings_pass_the_deployment_checklist() -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="vestnik.example.com",
        SMTP_PASSWORD_KEY="dmVzdG5pay10ZXN0cy1vbmx5LW5vdC1hLXNlY3JldCE=",
        DEFAULT_FROM_EMAIL="Vestnik <noreply@vestnik.example.com>",
        SITE_URL="https://vestnik.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_key_kept_in_the_secret_key_file_is_used_by_every_command(tmp_path: Path) -> None:
    """`make run` keeps its generated key there, so `manage.py create_managers --add` works without SECRET_KEY."""
    key_file = tmp_path / "secret_key"
    key_file.write_text("kept-key-" + "k" * 50 + "\n", encoding="utf-8")
    probe = "from django.conf import settings as s; print(s.SECRET_KEY)"
    result = _manage("shell", "-c", probe, DEBUG="false", SECRET_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "kept-key-" + "k" * 50


def test_the_deployment_checklist_asks_for_the_smtp_password_key() -> None:
    result = _manage(
        "check",
        "--deploy",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="vestnik.example.com",
        SMTP_PASSWORD_KEY="",
    )
    assert "senders.W002" in result.stdout + result.stderr


def test_the_deployment_checklist_warns_about_a_local_mail_domain() -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="vestnik.example.com",
        DEFAULT_FROM_EMAIL="Vestnik <noreply@vestnik.local>",
    )
    assert result.returncode == 1
    assert "mailings.W001" in result.stdout + result.stderr


def _example_values() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_the_example_configuration_works_as_is_for_development() -> None:
    probe = "from django.conf import settings as s; print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE)"
    result = _manage("shell", "-c", probe, **{**_example_values(), "DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["True", "False", "False"]


def test_the_example_configuration_is_secure_in_production() -> None:
    probe = "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
    probe += "s.SECURE_HSTS_SECONDS)"
    result = _manage("shell", "-c", probe, **{**_example_values(), "SECRET_KEY": secrets.token_urlsafe(50)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["True", "True", "31536000"]


def test_sqlite_commits_survive_a_power_loss_by_default() -> None:
    probe = "from django.db import connection; c = connection.cursor(); c.execute('PRAGMA synchronous'); "
    probe += "print(c.fetchone()[0])"
    result = _manage("shell", "-c", probe, DEBUG="true", DATABASE_URL="sqlite:///:memory:")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "2"  # FULL


def test_a_wrong_sqlite_durability_setting_stops_start_up_clearly() -> None:
    result = _manage("check", DEBUG="true", SQLITE_SYNCHRONOUS="sometimes")
    assert result.returncode != 0
    assert "SQLITE_SYNCHRONOUS must be FULL or NORMAL" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_migration_check_needs_no_secret() -> None:
    result = _manage("makemigrations", "--check", "--dry-run", DEBUG="false")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout
