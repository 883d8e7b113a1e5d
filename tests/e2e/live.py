"""The real Vestnik processes on a scratch SQLite database, for the browser tests and `make screenshots`.

`LiveSite` migrates a database file of its own and starts the web, worker and scheduler
processes exactly as Procfile.dev does (runserver, db_worker, runscheduler), sending mail to
whatever SMTP port it is given. Its environment drops DATABASE_URL, REDIS_URL and
TASKS_BACKEND, so it is the embedded SQLite set-up whatever the caller's environment says.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Debian's Chromium; Playwright's own browser download does not work on these machines.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]
# The worker of Procfile.dev, polling faster so a test does not wait for it.
WORKER_ARGV = ["db_worker", "--no-reload", "--no-startup-delay", "--queue-name", "*", "--interval", "0.2"]
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
SETUP_TIMEOUT = 240.0


def chromium_path() -> str | None:
    """The Chromium executable, or None when this machine has none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll `condition` until it returns something truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class LiveSite:
    """web + worker + scheduler on `workdir/db.sqlite3`, mail to 127.0.0.1:`smtp_port`."""

    def __init__(self, workdir: Path, *, smtp_port: int) -> None:
        self.workdir = workdir
        self.database = workdir / "db.sqlite3"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        dropped = {"DATABASE_URL", "REDIS_URL", "TASKS_BACKEND", "DJANGO_SETTINGS_MODULE", "MAILSINK_PORT"}
        self.env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("EMAIL_")}
        self.env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=f"sqlite:///{self.database}",
            DEBUG="true",
            SECRET_KEY="e2e-only-not-a-secret",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            # Unsubscribe links in the mailing messages point at this site.
            SITE_URL=self.url,
            TIME_ZONE="Europe/Moscow",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp_port),
            EMAIL_TIMEOUT="10",
            # A paused server is probed again after 3 s (not 30): the journey watches a run resume.
            SEND_BREAKER_BACKOFF="3,3,3",
            MEDIA_ROOT=str(workdir / "media"),
            LOG_LEVEL="INFO",
            LOG_FORMAT="plain",
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",
        )

    def manage(self, *args: str, timeout: float = SETUP_TIMEOUT) -> str:
        """Run `manage.py ARGS` against this site's database; its standard output."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout.decode()}\n{done.stderr.decode()}")
        return done.stdout.decode()

    def setup(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--no-input", "-v", "0")
        self.manage("create_managers")

    def start(self) -> None:
        self._spawn("web", "runserver", f"127.0.0.1:{self.port}", "--noreload")
        self._spawn("worker", *WORKER_ARGV)
        self._spawn("scheduler", "runscheduler")
        wait_for(self._web_answers, timeout=START_TIMEOUT, what=f"the web process at {self.url}\n{self.logs()}")

    def _spawn(self, name: str, *args: str) -> None:
        with (self.workdir / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def _web_answers(self) -> bool:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"the {name} process exited with {process.returncode}\n{self.logs()}")
        try:
            with urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def logs(self, tail: int = 4000) -> str:
        parts = []
        for name in self.processes:
            path = self.workdir / f"{name}.log"
            text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
            parts.append(f"--- {name}\n{text[-tail:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """SIGTERM every process, then kill whatever has not exited in time."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
