"""The scale-out claim, proven with real processes: two RQ workers and two schedulers on PostgreSQL and
Redis deliver a 2,000-recipient mailing, and the SMTP server receives exactly one copy per recipient.

Runs in the server leg (DATABASE_URL on PostgreSQL and REDIS_URL set; required in CI) against a
database and a Redis database of its own, with the production commands from the README.
"""

import json
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings

from tests.support import SmtpServer, process_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" or not settings.REDIS_URL,
        reason="the scale-out test needs PostgreSQL and Redis (the server leg: DATABASE_URL and REDIS_URL)",
    ),
]

BASE_DIR = Path(settings.BASE_DIR)
RECIPIENTS = 2000
DELIVERY_TIMEOUT = 300.0
# The production worker class (Procfile): its work horses stop when the worker is killed outright.
RQ_WORKER = "mailings.worker_recovery.Worker"

CREATE_MAILING = """
import json, os
from datetime import timedelta
from django.utils import timezone
from mailings.models import Mailing, Message, Recipient
from mailings.delivery.schedule import mailing_initial_next_run
from users.models import User

now = timezone.now()
# No finish report: it would reach the same mail server as the copies counted here.
owner = User.objects.create_user(email="scale@example.com", password="x", email_confirmed_at=now, finish_report=False)
message = Message.objects.create(owner=owner, subject="Большая рассылка", body="Здравствуйте!")
mailing = Mailing(owner=owner, message=message, start_at=now + timedelta(seconds=3), end_at=now + timedelta(days=1))
mailing.next_run_at = mailing_initial_next_run(mailing=mailing, now=now)
mailing.save()
count = int(os.environ["T_RECIPIENTS"])
recipients = Recipient.objects.bulk_create(
    Recipient(owner=owner, email=f"client{i:05d}@example.com", full_name=f"Клиент {i}") for i in range(count)
)
mailing.recipients.set(recipients)
print(json.dumps({"mailing": mailing.pk}))
"""

READ_ATTEMPTS = """
import json, os
from mailings.models import Attempt
rows = list(Attempt.objects.filter(mailing_id=int(os.environ["T_MAILING"])).values(
    "status", "total_count", "sent_count", "failed_count", "unknown_count", "skipped_count"))
print(json.dumps(rows))
"""


def _server_url(name: str) -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


@pytest.fixture
def scratch_database() -> Iterator[str]:
    name = f"vestnik_scale_{uuid.uuid4().hex[:10]}"
    admin_url = _server_url("postgres").replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _server_url(name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def scratch_redis() -> Iterator[str]:
    url = settings.REDIS_URL.rsplit("/", 1)[0] + "/13"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


def _env(database_url: str, redis_url: str, smtp_port: int) -> dict[str, str]:
    return process_env(
        database_url=database_url, smtp_port=smtp_port, REDIS_URL=redis_url, TASKS_BACKEND="rq", EMAIL_TIMEOUT="10"
    )


def _manage(env: dict[str, str], *args: str, **extra: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**env, **extra},
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout


def _wait_for(condition: Callable[[], bool], *, timeout: float, what: str, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs()}")
        time.sleep(0.2)


def test_two_rq_workers_and_two_schedulers_deliver_exactly_one_copy_per_recipient(
    scratch_database: str, scratch_redis: str, tmp_path: Path
) -> None:
    smtp = SmtpServer().start()
    env = _env(scratch_database, scratch_redis, smtp.port)
    processes: dict[str, subprocess.Popen[bytes]] = {}

    def logs() -> str:
        return "\n".join(f"--- {n}\n{(tmp_path / f'{n}.log').read_text(errors='replace')[-2000:]}" for n in processes)

    try:
        _manage(env, "migrate", "--no-input")
        mailing = json.loads(_manage(env, "shell", "-c", CREATE_MAILING, T_RECIPIENTS=str(RECIPIENTS)).splitlines()[-1])
        commands = {
            # The production commands of the README.
            "worker-1": [
                "rqworker",
                "--job-class",
                "django_tasks_rq.Job",
                "--worker-class",
                RQ_WORKER,
                "--with-scheduler",
                "default",
                "mail",
            ],
            "worker-2": [
                "rqworker",
                "--job-class",
                "django_tasks_rq.Job",
                "--worker-class",
                RQ_WORKER,
                "--with-scheduler",
                "default",
                "mail",
            ],
            "scheduler-1": ["runscheduler"],
            "scheduler-2": ["runscheduler"],
        }
        for name, args in commands.items():
            with (tmp_path / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
                )

        def attempts() -> list[dict[str, Any]]:
            out = _manage(env, "shell", "-c", READ_ATTEMPTS, T_MAILING=str(mailing["mailing"]))
            return json.loads(out.splitlines()[-1])

        _wait_for(lambda: len(smtp.messages) >= RECIPIENTS, timeout=DELIVERY_TIMEOUT, what="every message", logs=logs)
        _wait_for(lambda: all(a["status"] != "in_progress" for a in attempts()), timeout=60, what="the run", logs=logs)

        copies = Counter(r.lower() for m in smtp.messages for r in m.rcpt_tos)
        assert len(copies) == RECIPIENTS
        assert max(copies.values()) == 1
        assert all(len(m.rcpt_tos) == 1 for m in smtp.messages)
        assert attempts() == [
            {
                "status": "success",
                "total_count": RECIPIENTS,
                "sent_count": RECIPIENTS,
                "failed_count": 0,
                "unknown_count": 0,
                "skipped_count": 0,
            }
        ]
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        smtp.stop()
