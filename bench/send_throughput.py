"""Delivery throughput: Vestnik end to end against Postfix's smtp-sink, compared with plain smtplib and send_mail().

    .venv/bin/python bench/send_throughput.py [--n 10000]

Runs, in one go, against one smtp-sink on 127.0.0.1:
  (a1) Vestnik end to end with one `manage.py db_worker` process: enqueue -> every delivery final,
       ledger and attempt summary written (workers are started, warmed up by a 100-recipient run,
       and idle before the enqueue);
  (a2) the same with two worker processes sharing the run;
  (b)  a raw smtplib loop over one reused connection, building equivalent messages;
  (c)  Django's send_mail() once per recipient.
Prints messages per second of each and the workers' peak memory (VmHWM); with --repeat the four are
interleaved for several rounds and the best of each is used. As its last line it prints
`vestnik/raw=<a1/b> vestnik2/raw=<a2/b> vestnik/send_mail=<a1/c>`.

Needs smtp-sink (Debian: `apt-get install -y postfix`, with DEBIAN_FRONTEND=noninteractive; the
binary is /usr/sbin/smtp-sink). Uses its own SQLite file database under var/bench/.
"""

import argparse
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "var" / "bench"
SUBJECT = "Новости недели"
BODY = "Здравствуйте!\n\nУ нас новости: скидки на всё до конца месяца.\n" * 5
FROM = "Vestnik <noreply@vestnik.local>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"smtp-sink did not start on port {port}")


def start_sink(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(binary).exists():
        raise SystemExit(
            "smtp-sink not found. Install Postfix (it ships /usr/sbin/smtp-sink):\n"
            "    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postfix\n"
            "and run this script as root (smtp-sink drops privileges to `nobody`)."
        )
    args = (
        [binary, "-u", "nobody", f"127.0.0.1:{port}", "1000"]
        if os.geteuid() == 0
        else [binary, f"127.0.0.1:{port}", "1000"]
    )
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


DATABASE_URL_OVERRIDE = ""


def base_env(db_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TASKS_BACKEND")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="bench-only-not-a-secret",
        DEBUG="false",
        DATABASE_URL=DATABASE_URL_OVERRIDE or f"sqlite:///{db_path}",
        TASKS_BACKEND="database",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_TIMEOUT="10",
        DEFAULT_FROM_EMAIL=FROM,
        SEND_TASKS_PER_ATTEMPT="2",
        LOG_LEVEL="WARNING",
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], env=env, cwd=BASE_DIR, check=True)


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


VESTNIK_RUN = r"""
import sys, time
import django
django.setup()
from django.utils import timezone
from datetime import timedelta
from mailings.models import Attempt, Mailing, Message, Recipient
from mailings.delivery.runs import attempt_start
from users.models import User

n = int(sys.argv[1])
user = User.objects.create_user(email=f"bench{time.time_ns()}@example.com", password="x")
message = Message.objects.create(owner=user, subject=sys.argv[2], body=sys.argv[3])
now = timezone.now()
mailing = Mailing.objects.create(
    owner=user, message=message, start_at=now - timedelta(hours=1), end_at=now + timedelta(days=1)
)
Recipient.objects.bulk_create(
    [Recipient(owner=user, email=f"r{i}@example.com", full_name=f"Получатель {i}") for i in range(n)], batch_size=1000
)
mailing.recipients.set(Recipient.objects.filter(owner=user))
print("ready", flush=True)
warmup = Mailing.objects.create(
    owner=user, message=message, start_at=now - timedelta(hours=1), end_at=now + timedelta(days=1)
)
warmup.recipients.set(Recipient.objects.filter(owner=user).order_by("pk")[:100])
sys.stdin.readline()  # the workers are up and idle


def run(m):
    attempt = attempt_start(mailing=m, trigger=Attempt.Trigger.COMMAND)
    while True:
        attempt.refresh_from_db(fields=["status", "sent_count", "server_response"])
        if attempt.status != Attempt.Status.IN_PROGRESS:
            return attempt
        time.sleep(0.02)


# A worker imports the engine with its first task; keep that one-off cost out of the figure.
run(warmup)
started = time.perf_counter()
attempt = run(mailing)
elapsed = time.perf_counter() - started
print(f"done {elapsed:.6f} {attempt.sent_count} {attempt.server_response}", flush=True)
"""


def run_vestnik(*, n: int, workers: int, port: int) -> tuple[float, float, str]:
    """Returns (messages per second, peak worker RSS in MB, summary)."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    db_path = BENCH_DIR / f"bench-{workers}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    env = base_env(db_path, port)
    if DATABASE_URL_OVERRIDE:
        manage(env, "flush", "--no-input", "--verbosity", "0")
    manage(env, "migrate", "--verbosity", "0")
    driver = subprocess.Popen(
        [sys.executable, "-c", VESTNIK_RUN, str(n), SUBJECT, BODY],
        env=env,
        cwd=BASE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert driver.stdout is not None and driver.stdin is not None
    if driver.stdout.readline().strip() != "ready":
        raise SystemExit("bench driver failed")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(BASE_DIR / "manage.py"),
                "db_worker",
                "--no-reload",
                "--no-startup-delay",
                "--queue-name",
                "mail",
                "--interval",
                "0.05",
                "--verbosity",
                "0",
            ],
            env=env,
            cwd=BASE_DIR,
        )
        for _ in range(workers)
    ]
    time.sleep(3.0)  # let the workers import Django and start polling
    driver.stdin.write("go\n")
    driver.stdin.flush()
    line = driver.stdout.readline().split(maxsplit=3)
    driver.wait(60)
    peaks = [peak_rss_mb(p.pid) for p in procs]
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
    if not line or line[0] != "done":
        raise SystemExit("the Vestnik run did not finish")
    elapsed, sent, summary = float(line[1]), int(line[2]), line[3].strip() if len(line) > 3 else ""
    if sent != n:
        print(f"warning: {sent} of {n} sent: {summary}")
    return n / elapsed, max(peaks), summary


def build_raw(name: str, to: str) -> bytes:
    """The message a hand-written loop would build: the classic MIMEText API (as Django uses), one per recipient."""
    msg = MIMEText(BODY, "plain", "utf-8")
    msg["From"] = FROM
    msg["To"] = formataddr((name, to), charset="utf-8")
    msg["Subject"] = Header(SUBJECT, "utf-8")  # type: ignore[assignment]  # compat32 takes a Header; typeshed says str
    msg["Date"] = formatdate()
    msg["Message-ID"] = make_msgid(domain="vestnik.local")
    return msg.as_bytes()


def run_raw(*, n: int, port: int) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=10, local_hostname="vestnik.local") as smtp:
        for i in range(n):
            to = f"r{i}@example.com"
            smtp.sendmail("noreply@vestnik.local", [to], build_raw(f"Получатель {i}", to))
    return n / (time.perf_counter() - started)


def run_send_mail(*, n: int, port: int) -> float:
    os.environ.update(base_env(BENCH_DIR / "bench-1.sqlite3", port))
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.mail import send_mail

    started = time.perf_counter()
    for i in range(n):
        send_mail(SUBJECT, BODY, FROM, [f"r{i}@example.com"])
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="recipients (default 10000)")
    parser.add_argument(
        "--database-url",
        default="",
        help="run (a1)/(a2) on this database instead of a fresh SQLite file (it is FLUSHED), e.g. PostgreSQL",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the best figure of each is kept")
    args = parser.parse_args()
    global DATABASE_URL_OVERRIDE
    DATABASE_URL_OVERRIDE = args.database_url
    port = free_port()
    sink = start_sink(port)
    a1 = a2 = b = c = 0.0
    rss1 = rss2 = 0.0
    try:
        # Rounds interleave the four, and the best of each is kept: on a shared machine other
        # load comes and goes, and it should not favour whichever ran in a quiet moment.
        for round_no in range(1, args.repeat + 1):
            tag = f" (round {round_no}/{args.repeat})" if args.repeat > 1 else ""
            raw = run_raw(n=args.n, port=port)
            print(f"(b)  raw smtplib loop:   {raw:8.0f} msg/s{tag}")
            v1, r1, summary1 = run_vestnik(n=args.n, workers=1, port=port)
            print(f"(a1) Vestnik, 1 worker:  {v1:8.0f} msg/s  peak worker RSS {r1:.0f} MB  [{summary1}]{tag}")
            v2, r2, summary2 = run_vestnik(n=args.n, workers=2, port=port)
            print(f"(a2) Vestnik, 2 workers: {v2:8.0f} msg/s  peak worker RSS {r2:.0f} MB  [{summary2}]{tag}")
            dj = run_send_mail(n=args.n, port=port)
            print(f"(c)  send_mail() each:   {dj:8.0f} msg/s{tag}")
            a1, a2, b, c = max(a1, v1), max(a2, v2), max(b, raw), max(c, dj)
            rss1, rss2 = max(rss1, r1), max(rss2, r2)
    finally:
        sink.terminate()
        sink.wait(10)
    if args.repeat > 1:
        print(
            f"best of {args.repeat}: a1={a1:.0f} a2={a2:.0f} b={b:.0f} c={c:.0f} msg/s; "
            f"peak RSS {rss1:.0f}/{rss2:.0f} MB"
        )
    print(f"vestnik/raw={a1 / b:.2f} vestnik2/raw={a2 / b:.2f} vestnik/send_mail={a1 / c:.2f}")


if __name__ == "__main__":
    main()
