"""The real processes: `manage.py runscheduler` (two of them) and `manage.py db_worker` deliver a mailing by themselves.

They run against a temporary file SQLite database of their own (migrated here), with the
database task backend and cache, and send to a real SMTP server in this process.
"""

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests import support as testing
from tests.support import SinkHandler, SmtpServer

pytestmark = pytest.mark.slow

BASE_DIR = Path(settings.BASE_DIR)
DELIVERY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

CREATE_MAILING = """
import json, os
from datetime import timedelta
from django.utils import timezone
from mailings.models import Mailing, Message, Recipient
from mailings.delivery.schedule import mailing_initial_next_run
from users.models import User

now = timezone.now()
# No finish report: it would reach the same mail server as the copies counted here.
owner = User.objects.create_user(email=os.environ["T_OWNER"], password="x", email_confirmed_at=now, finish_report=False)
message = Message.objects.create(owner=owner, subject=os.environ["T_SUBJECT"], body="Здравствуйте!")
mailing = Mailing(
    owner=owner,
    message=message,
    start_at=now + timedelta(seconds=float(os.environ["T_START_IN"])),
    end_at=now + timedelta(days=1),
    periodicity=Mailing.Periodicity.ONCE,
)
mailing.next_run_at = mailing_initial_next_run(mailing=mailing, now=now)
mailing.save()
for address in os.environ["T_RECIPIENTS"].split(","):
    mailing.recipients.add(Recipient.objects.create(owner=owner, email=address, full_name=address))
print(json.dumps({"mailing": mailing.pk, "start_at": mailing.start_at.timestamp()}))
"""


class TimedSink(SinkHandler):
    """Remembers when each message arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str | bytes:
        reply = await super().handle_DATA(server, session, envelope)
        self.arrived.append(time.time())
        return reply


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scheduler") / "db.sqlite3"
    env = process_env(path, smtp_port=9)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    return path


def process_env(database: Path, *, smtp_port: int) -> dict[str, str]:
    return testing.process_env(database_url=f"sqlite:///{database}", smtp_port=smtp_port)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(handler=TimedSink()).start()
    yield server
    server.stop()


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.running[name] = subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def stop(self, name: str) -> int:
        process = self.running[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        return process.wait(timeout=STOP_TIMEOUT)

    def kill_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def manage_shell(env: dict[str, str], code: str, **extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env={**env, **extra},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def wait_for(condition: Any, *, timeout: float, what: str, diagnostics: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}\n{diagnostics() if diagnostics else ''}"
            )
        time.sleep(0.1)


def test_two_schedulers_and_a_worker_deliver_a_mailing_at_its_start_exactly_once(
    database: Path, smtp: SmtpServer, tmp_path: Path
) -> None:
    env = process_env(database, smtp_port=smtp.port)
    recipients = ["ivanov@example.com", "petrova@example.com", "sidorov@example.com"]
    created = manage_shell(
        env,
        CREATE_MAILING,
        T_OWNER="processes@example.com",
        T_SUBJECT="Новости недели",
        T_START_IN="6",
        T_RECIPIENTS=",".join(recipients),
    )
    processes = Processes(env, tmp_path)
    sink = smtp.handler
    assert isinstance(sink, TimedSink)  # the fixture's server records arrival times
    with ExitStack() as cleanup:
        cleanup.callback(processes.kill_all)
        # Two schedulers race for every slot; the worker is the Procfile's.
        processes.start("scheduler-1", "runscheduler")
        processes.start("scheduler-2", "runscheduler")
        processes.start("worker", "db_worker", "--no-reload", "--queue-name", "*")

        wait_for(
            lambda: len(sink.messages) >= len(recipients),
            timeout=DELIVERY_TIMEOUT,
            what="the mailing to be delivered",
            diagnostics=lambda: "\n".join(f"--- {n}\n{processes.log(n)[-3000:]}" for n in processes.running),
        )

        # Nothing was sent before the start, and each recipient got one copy.
        assert min(sink.arrived) >= created["start_at"]
        assert sorted(r for m in sink.messages for r in m.rcpt_tos) == sorted(recipients)
        assert {m.subject for m in sink.messages} == {"Новости недели"}
        with sqlite3.connect(database) as db:
            attempts = db.execute(
                "SELECT trigger, scheduled_for FROM mailings_attempt WHERE mailing_id = ?", (created["mailing"],)
            ).fetchall()
        assert len(attempts) == 1
        assert attempts[0][0] == "schedule"
        # SQLite keeps Django's datetimes as naive UTC text.
        slot = datetime.fromisoformat(attempts[0][1]).replace(tzinfo=UTC)
        assert slot.timestamp() == pytest.approx(created["start_at"], abs=1e-3)

        # SIGTERM: each process finishes what it has in hand and exits cleanly.
        for name in ("scheduler-1", "scheduler-2", "worker"):
            assert processes.stop(name) == 0, processes.log(name)
        for name in ("scheduler-1", "scheduler-2"):
            assert "scheduler stopped" in processes.log(name)
            assert "Traceback" not in processes.log(name)
        # The health record of each scheduler's last tick is in the shared cache.
        with sqlite3.connect(database) as db:
            assert (
                db.execute("SELECT count(*) FROM vestnik_cache WHERE cache_key LIKE '%scheduler:last_tick'").fetchone()[
                    0
                ]
                == 1
            )
