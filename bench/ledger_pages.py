"""Reports at scale: the statistics, attempts and home pages, uncached, idle and while a run is sending.

    .venv/bin/python bench/ledger_pages.py [--deliveries 100000] [--requests 30] [--repeat 3] [--reseed]

Seeds (once per size; reused afterwards) an account on its own SQLite file, var/bench/ledger-<N>.sqlite3:
10,000 recipients, 1,000 mailings, 2,000 finished attempts and N deliveries spread over them (the attempts'
counters kept as the engine keeps them). Then, through Django's test Client (the whole middleware stack, no
network), signed in as that owner, with the cache off (DummyCache: every request computes from the database),
measures requests per second of the statistics, attempts and home pages against a trivial view, taking turns
request by request:
  idle    nothing else runs;
  sending a real `db_worker` process sends a 10,000-recipient run of the same owner to Postfix's smtp-sink
          (paced by SEND_RATE_PER_SECOND=1000 so it lasts about 10 s), writing outcomes into the same database
          while the pages are measured; the run must still be in progress when the measurement ends.
Prints a table and, as its last line, `uncached_stats/trivial=<r> sending_stats/trivial=<r>` (the statistics
page's requests per second divided by the trivial view's, idle and while sending; target >= 0.3 at 1,000,000).
Needs smtp-sink (Debian package postfix), see bench/send_throughput.py.
"""

import argparse
import contextlib
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30, help="requests per page and measurement")
    parser.add_argument("--repeat", type=int, default=3, help="idle rounds; the best of each page is kept")
    parser.add_argument("--reseed", action="store_true")
    return parser.parse_args()


ARGS = _arguments()
(BASE_DIR / "var" / "bench").mkdir(parents=True, exist_ok=True)
DB_PATH = BASE_DIR / "var" / "bench" / f"ledger-{ARGS.deliveries}.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{DB_PATH}"
os.environ["TASKS_BACKEND"] = "database"
os.environ.pop("REDIS_URL", None)
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

import django  # noqa: E402

django.setup()

from datetime import timedelta  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tasks_db.models import DBTaskResult  # noqa: E402

from mailings.delivery.runs import attempt_start  # noqa: E402
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient  # noqa: E402
from users.models import User  # noqa: E402

OWNER_EMAIL = "ledger-owner@example.com"
RECIPIENTS, MAILINGS, ATTEMPTS_PER_MAILING, RUN_RECIPIENTS = 10_000, 1_000, 2, 10_000
PAGES = [("statistics", "/stats/"), ("attempts", "/attempts/"), ("home", "/")]
TRIVIAL = "/bench/trivial/"
NO_CACHE = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    """Postfix's smtp-sink on 127.0.0.1:port (as bench/send_throughput.py starts it)."""
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([binary, *user, f"127.0.0.1:{port}", "1000"], stdout=subprocess.DEVNULL)
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return proc
        time.sleep(0.05)
    raise SystemExit(f"smtp-sink did not start on port {port}")


def seed(*, deliveries: int, reseed: bool) -> User:
    call_command("migrate", "--no-input", verbosity=0)
    call_command("createcachetable", verbosity=0)  # the worker's page-cache bumps (the database cache)
    owner = User.objects.filter(email=OWNER_EMAIL).first()
    if owner is not None and not reseed and Mailing.objects.filter(owner=owner).count() == MAILINGS + 1:
        return owner
    started = time.monotonic()
    per_attempt = max(1, deliveries // (MAILINGS * ATTEMPTS_PER_MAILING))
    with transaction.atomic():
        User.objects.filter(email=OWNER_EMAIL).delete()
        owner = User.objects.create_user(
            email=OWNER_EMAIL, password="bench", first_name="Журнал", email_confirmed_at=timezone.now()
        )
        Recipient.objects.bulk_create(
            (Recipient(owner=owner, email=f"r{i}@example.com", full_name=f"Получатель {i}") for i in range(RECIPIENTS)),
            batch_size=5000,
        )
        ids = list(Recipient.objects.filter(owner=owner).order_by("pk").values_list("pk", flat=True))
        messages = Message.objects.bulk_create(
            (Message(owner=owner, subject=f"Новости №{i}", body="Здравствуйте!") for i in range(MAILINGS + 1)),
            batch_size=2000,
        )
        now = timezone.now()
        mailings = Mailing.objects.bulk_create(
            (
                Mailing(
                    owner=owner,
                    message=message,
                    start_at=now - timedelta(days=10),
                    end_at=now + timedelta(days=300),
                    periodicity=Mailing.Periodicity.WEEKLY,
                    status=Mailing.Status.RUNNING,
                )
                for message in messages
            ),
            batch_size=2000,
        )
        # The last mailing is the one sent while measuring: to all 10,000 recipients.
        Mailing.recipients.through.objects.bulk_create(
            (Mailing.recipients.through(mailing_id=mailings[-1].pk, recipient_id=rid) for rid in ids), batch_size=5000
        )
        failed = max(1, per_attempt // 25)
        attempts = Attempt.objects.bulk_create(
            (
                Attempt(
                    mailing=mailing,
                    trigger=Attempt.Trigger.SCHEDULE if k else Attempt.Trigger.MANUAL,
                    scheduled_for=now - timedelta(days=7 * k) if k else None,
                    started_at=now - timedelta(days=7 * k, minutes=i),
                    finished_at=now - timedelta(days=7 * k, minutes=i) + timedelta(seconds=30),
                    status=Attempt.Status.FAILURE,
                    total_count=per_attempt,
                    sent_count=per_attempt - failed,
                    failed_count=failed,
                    server_response=f"250 2.0.0 Ok ×{per_attempt - failed}; 550 5.1.1 User unknown ×{failed}",
                )
                for i, mailing in enumerate(mailings[:-1])
                for k in range(ATTEMPTS_PER_MAILING)
            ),
            batch_size=2000,
        )
        rows = (
            Delivery(
                attempt_id=attempt.pk,
                recipient_id=ids[(n * 37 + j) % RECIPIENTS],
                email=f"r{(n * 37 + j) % RECIPIENTS}@example.com",
                state=Delivery.State.FAILED if j < failed else Delivery.State.SENT,
                tries=1,
                smtp_code=550 if j < failed else 250,
                finished_at=attempt.finished_at,
            )
            for n, attempt in enumerate(attempts)
            for j in range(per_attempt)
        )
        Delivery.objects.bulk_create(rows, batch_size=10_000)
    print(f"seeded {deliveries:,} deliveries in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return owner


def _worker(port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="bench-only-not-a-secret",
        DEBUG="false",
        DATABASE_URL=f"sqlite:///{DB_PATH}",
        TASKS_BACKEND="database",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        SEND_RATE_PER_SECOND="1000",
        SEND_TASKS_PER_ATTEMPT="1",
        LOG_LEVEL="WARNING",
    )
    args = ["db_worker", "--no-reload", "--skip-checks", "--no-startup-delay", "--queue-name", "mail"]
    args += ["--interval", "0.05"]
    return subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), *args, "--verbosity", "0"], env=env)


def measure(client: Client, *, n: int) -> dict[str, float]:
    """Requests per second of each page and the trivial view, taking turns request by request."""
    targets = [("trivial", TRIVIAL), *PAGES]
    times: dict[str, list[float]] = {name: [] for name, _url in targets}
    for _round in range(n):
        for name, url in targets:
            t0 = time.perf_counter()
            response = client.get(url)
            times[name].append(time.perf_counter() - t0)
            assert response.status_code == 200, (url, response.status_code)
    return {name: len(samples) / sum(samples) for name, samples in times.items()} | {
        f"{name} p95": statistics.quantiles(samples, n=20)[-1] * 1000 for name, samples in times.items()
    }


def main() -> None:
    owner = seed(deliveries=ARGS.deliveries, reseed=ARGS.reseed)
    total = Delivery.objects.count()
    client = Client()
    client.force_login(owner)
    results: dict[str, dict[str, float]] = {}
    # DummyCache keeps nothing, so in this process every data version bump (starting the run) reads as a cache
    # outage and is logged as an error: expected here, and not what is measured.
    logging.getLogger("core.data_versions").setLevel(logging.CRITICAL)
    with override_settings(CACHES=NO_CACHE):
        for _ in range(3):
            measure(client, n=3)  # warm-up
        idle: dict[str, float] = {}
        for _ in range(max(1, ARGS.repeat)):
            for key, value in measure(client, n=ARGS.requests).items():
                idle[key] = max(idle.get(key, 0.0), value) if not key.endswith("p95") else value
        results["idle"] = idle
        # The run of an earlier measurement, and its tasks, go first: the worker must find only this one's.
        mailing = Mailing.objects.filter(owner=owner).order_by("-pk").first()
        assert mailing is not None
        Attempt.objects.filter(mailing=mailing).delete()
        DBTaskResult.objects.all().delete()
        port = free_port()
        sink = start_sink(port)
        worker = _worker(port)
        try:
            time.sleep(3.0)  # the worker imports Django and starts polling
            attempt = attempt_start(mailing=mailing, trigger=Attempt.Trigger.COMMAND)
            deadline = time.monotonic() + 30
            while Attempt.objects.get(pk=attempt.pk).sent_count < 500:  # sending in earnest
                assert time.monotonic() < deadline, "the run did not start sending"
                time.sleep(0.05)
            results["sending"] = measure(client, n=ARGS.requests)
            attempt.refresh_from_db()
            in_progress = not attempt.is_final
            sent_then = attempt.sent_count
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
            sink.terminate()
            sink.wait(10)
    print(f"database sqlite, cache off, Django test Client, {total:,} deliveries")
    print(f"{'page':<12}{'mode':>9}{'req/s':>10}{'p95 ms':>10}")
    for mode, figures in results.items():
        for name in ["trivial", *(name for name, _url in PAGES)]:
            print(f"{name:<12}{mode:>9}{figures[name]:>10.0f}{figures[f'{name} p95']:>10.2f}")
    print(f"run of {RUN_RECIPIENTS:,}: {sent_then:,} sent when the measurement ended, in progress: {in_progress}")
    idle_ratio = results["idle"]["statistics"] / results["idle"]["trivial"]
    sending_ratio = results["sending"]["statistics"] / results["sending"]["trivial"]
    print(f"uncached_stats/trivial={idle_ratio:.2f} sending_stats/trivial={sending_ratio:.2f}")


if __name__ == "__main__":
    main()
