"""`make run` (scripts/start.py): what a newcomer's first start prepares and prints."""

import importlib.util
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests import support as testing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def start() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vestnik_start", ROOT / "scripts" / "start.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program (say, the first `make run`) listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_fresh_database_needs_only_migrate(tmp_path: Path) -> None:
    database = tmp_path / "fresh.sqlite3"
    env = testing.process_env(database_url=f"sqlite:///{database}", smtp_port=9)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    with sqlite3.connect(database) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "vestnik_cache" in tables
    probe = "from django.core.cache import cache; cache.set('k', 'v'); print(cache.get('k'))"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.stdout.strip().splitlines()[-1] == "v", done.stderr


def test_a_second_start_says_which_port_is_taken_and_what_to_do(start: ModuleType, taken_port: int) -> None:
    message = start.busy_ports_message(port=_free_port(), mailsink_port=taken_port)
    assert f"port {taken_port} (the local mail sink) is in use" in message
    assert f"MAILSINK_PORT={taken_port + 1}" in message
    assert "already running" in message
    web = start.busy_ports_message(port=taken_port, mailsink_port=None)
    assert f"make run PORT={taken_port + 1}" in web


def test_free_ports_give_no_message(start: ModuleType) -> None:
    assert start.busy_ports_message(port=_free_port(), mailsink_port=_free_port()) == ""


def test_the_secret_is_generated_once_and_kept_private(start: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret_key"
    first = start.secret_file_ensure(path)
    assert len(first) >= 50
    assert start.secret_file_ensure(path) == first
    assert path.stat().st_mode & 0o077 == 0


def test_the_banner_says_what_demo_data_exists_and_how_to_start_empty(start: ModuleType) -> None:
    text = start.banner(
        port=8000, debug=False, demo=True, real_server=False, admin_password="s3cret", mail_dir="/tmp/mail"
    )
    assert "demo@vestnik.local / vestnik-demo" in text
    assert "4 mailings" in text
    assert "make run DEMO=false" in text
    assert "admin@vestnik.local / s3cret" in text
    assert "make run DEBUG=true" in text
    assert "saved to /tmp/mail" in text


def test_the_banner_says_demo_mailings_are_off_with_a_real_server(start: ModuleType) -> None:
    text = start.banner(port=8000, debug=True, demo=True, real_server=True, admin_password="x", mail_dir="")
    assert "never reach a real mail server" in text
    empty = start.banner(port=8000, debug=False, demo=False, real_server=False, admin_password="x", mail_dir="")
    assert "No demo data" in empty and "demo@vestnik.local" not in empty


def test_the_local_run_switches_off_only_the_https_hardening(start: ModuleType) -> None:
    assert "DEBUG" not in start.LOCAL_HTTP
    assert start.LOCAL_HTTP["SECURE_SSL_REDIRECT"] == "false"
    assert start.LOCAL_HTTP["SERVE_MEDIA"] == "true"


@pytest.mark.slow
def test_make_run_serves_the_product_with_debug_off(tmp_path: Path) -> None:
    """scripts/start.py for real: migrate alone prepares the database, static files are served, no debug pages."""
    import os
    import signal
    import time
    import urllib.error
    import urllib.request

    port, mailsink_port = _free_port(), _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "SESSION_", "CSRF_", "EMAIL_"))
    }
    for name in ("REDIS_URL", "TASKS_BACKEND", "DEBUG"):
        env.pop(name, None)
    env.update(
        PORT=str(port),
        MAILSINK_PORT=str(mailsink_port),
        MAILSINK_DIR=str(tmp_path / "mail"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        SECRET_KEY="tests-only-not-a-secret",
        DEMO="false",
        PYTHONUNBUFFERED="1",
    )
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [sys.executable, "scripts/start.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(url + path, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    try:
        deadline = time.monotonic() + 240
        while True:
            assert run.poll() is None, (tmp_path / "run.log").read_text()
            try:
                status, home = get("/")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
                time.sleep(0.5)
        assert status == 200
        stylesheet = next(part for part in home.split('"') if part.startswith("/static/css/vestnik."))
        assert stylesheet != "/static/css/vestnik.css"  # hashed: collected, as in production
        assert get(stylesheet)[0] == 200
        missing_status, missing = get("/no-such-page/")
        assert missing_status == 404
        assert "Страница не найдена" in missing and "URLconf" not in missing
        assert "No demo data loaded" in (tmp_path / "run.log").read_text()
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=60)
        log.close()
