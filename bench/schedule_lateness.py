"""Schedule lateness: how long after its start_at a mailing's first message reaches the mail server.

    .venv/bin/python bench/schedule_lateness.py [--mailings 50] [--whole-seconds]

Creates N one-recipient mailings due at staggered times within the next minute, then starts the
real processes exactly as the Procfile does (`manage.py runscheduler` and
`manage.py db_worker --no-reload --queue-name '*'`) against their own SQLite file database under
var/bench/, sending to a local aiosmtpd sink in this process. Measures, per mailing, the delay from
start_at to the arrival of its first message at the sink (scheduler tick + task queue pickup +
building and sending). By default the start times have arbitrary fractions of a second (the worst
case for a once-a-second tick); `--whole-seconds` puts them on whole seconds, as the pages do
(minute precision). Prints the median and p95, and as its last line `p50=<s> p95=<s>`.
"""

import argparse
import json
import math
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from tests.support import SinkHandler, SmtpServer, process_env  # noqa: E402

BENCH_DIR = BASE_DIR / "var" / "bench"
FIRST_START_IN = 8.0  # seconds: room for the processes to start
WINDOW = 50.0  # seconds over which the start times are spread

CREATE = r"""
import json, os, sys
from datetime import timedelta
from django.utils import timezone
from mailings.models import Mailing, Message, Recipient
from mailings.delivery.schedule import mailing_initial_next_run
from users.models import User

n = int(os.environ["B_MAILINGS"])
first, window = float(os.environ["B_FIRST"]), float(os.environ["B_WINDOW"])
whole = os.environ["B_WHOLE"] == "1"
now = timezone.now()
owner = User.objects.create_user(email="bench@example.com", password="x", email_confirmed_at=now)
out = []
for i in range(n):
    # Evenly spread, each with a different fraction of a second (golden-ratio steps).
    start_at = now + timedelta(seconds=first + window * i / n + (i * 0.6180339887) % 1)
    if whole:
        start_at = start_at.replace(microsecond=0)
    message = Message.objects.create(owner=owner, subject=f"Bench {i}", body="Здравствуйте!")
    mailing = Mailing(owner=owner, message=message, start_at=start_at, end_at=now + timedelta(days=1))
    mailing.next_run_at = mailing_initial_next_run(mailing=mailing, now=now)
    mailing.save()
    mailing.recipients.add(Recipient.objects.create(owner=owner, email=f"r{i}@example.com", full_name=f"R {i}"))
    out.append({"address": f"r{i}@example.com", "start_at": start_at.timestamp()})
print(json.dumps(out))
"""


class Sink(SinkHandler):
    """The arrival time of the first message to each address."""

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[str, float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        arrived = time.time()
        with self.lock:
            for address in envelope.rcpt_tos:
                self.first.setdefault(address.lower(), arrived)
        return "250 2.0.0 Ok: queued"


WORKER_ARGS = ["db_worker", "--no-reload", "--skip-checks", "--queue-name", "*"]


def env_for(db_path: Path, port: int) -> dict[str, str]:
    return process_env(database_url=f"sqlite:///{db_path}", smtp_port=port, LOG_LEVEL="WARNING")


def manage(env: dict[str, str], *args: str, **extra_env: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**env, **extra_env},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mailings", type=int, default=50)
    parser.add_argument("--whole-seconds", action="store_true", help="start times on whole seconds")
    options = parser.parse_args()

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    db_path = BENCH_DIR / "lateness.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)

    sink = Sink()
    smtp = SmtpServer(handler=sink).start()
    env = env_for(db_path, smtp.port)
    processes: list[subprocess.Popen[bytes]] = []
    logs = [(BENCH_DIR / f"lateness-{name}.log") for name in ("scheduler", "worker")]
    try:
        manage(env, "migrate", "--no-input", "--verbosity", "0")
        mailings = json.loads(
            manage(
                env,
                "shell",
                "-c",
                CREATE,
                B_MAILINGS=str(options.mailings),
                B_FIRST=str(FIRST_START_IN),
                B_WINDOW=str(WINDOW),
                B_WHOLE="1" if options.whole_seconds else "0",
            )
            .strip()
            .splitlines()[-1]
        )
        for log, args in zip(logs, (["runscheduler"], WORKER_ARGS), strict=True):
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "manage.py", *args],
                        cwd=BASE_DIR,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        last_start = max(m["start_at"] for m in mailings)
        deadline = last_start + 60
        while len(sink.first) < len(mailings) and time.time() < deadline:
            time.sleep(0.1)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        smtp.stop()

    delays = [sink.first[m["address"]] - m["start_at"] for m in mailings if m["address"] in sink.first]
    missing = len(mailings) - len(delays)
    print(f"mailings: {len(mailings)}, delivered: {len(delays)}, missing: {missing}")
    print(f"start times: {'whole seconds' if options.whole_seconds else 'arbitrary fractions of a second'}")
    if not delays:
        print(f"nothing arrived; see {', '.join(map(str, logs))}")
        return 1
    print(f"delay from start_at to the first message: min {min(delays):.3f} s, max {max(delays):.3f} s")
    print(f"median {statistics.median(delays):.3f} s, p95 {p95(delays):.3f} s")
    print(f"p50={statistics.median(delays):.2f} p95={p95(delays):.2f}")
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
