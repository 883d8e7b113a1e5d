"""Delivery throughput: Vestnik end to end against Postfix's smtp-sink, compared with plain smtplib and send_mail().

    .venv/bin/python bench/send_throughput.py [--n 10000]

Runs, in one go, against one smtp-sink on 127.0.0.1:
  (a1) Vestnik end to end with one `manage.py db_worker` process: enqueue -> every delivery final,
       ledger and attempt summary written (workers are started, warmed up by a 100-recipient run,
       and idle before the enqueue);
  (a2) the same with two worker processes sharing the run;
  (b)  a raw smtplib loop over one reused connection, building equivalent messages;
  (c)  Django's send_mail() once per recipient;
  (d)  Postfix's own C client, smtp-source, over one connection with messages of the same size as
       (b)'s: the physical limit of this machine and sink;
  (p)  Vestnik with one worker again, for a personalised Markdown message (HTML + text parts, the
       recipient's name in the subject and body).
Placement (--placement): by default ("split") the sink has one CPU and the sending side the other: smtp-sink
and the driver that starts the run on the first, smtp-source, the raw loop, send_mail() and the one-worker runs
(a1, p) on the second; (a2)'s two workers are not pinned. So every round trip crosses from one CPU to the other,
as it crosses the network to a real mail server. Left to the kernel ("free"), the figures are not reproducible:
on this 2-core VM smtp-source made 9,300-11,100 msg/s when the kernel happened to put it on the sink's CPU (a
round trip is then a switch between two processes, not a wake-up of another CPU) and 1,900-4,200 when it did
not, from one run to the next. "shared" puts everything on the first CPU.
Prints messages per second of each and the workers' peak memory (VmHWM); with --repeat they are
interleaved for several rounds and the best of each is used. As its last line it prints
`vestnik/raw=<a1/b> vestnik2/raw=<a2/b> vestnik/send_mail=<a1/c> vestnik/limit=<a1/d> html/limit=<p/d>`
(targets: vestnik/limit >= 0.7, html/limit >= 0.5).

Needs smtp-sink and smtp-source (Debian: `apt-get install -y postfix`, with DEBIAN_FRONTEND=noninteractive;
the binaries are in /usr/sbin). Uses its own SQLite file database under var/bench/.
"""

import argparse
import contextlib
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "var" / "bench"
SUBJECT = "Новости недели"
BODY = "Здравствуйте!\n\nУ нас новости: скидки на всё до конца месяца.\n" * 5
FROM = "Vestnik <noreply@vestnik.local>"
HTML_SUBJECT = "Новости недели для {{ имя }}"
HTML_BODY = (
    '# Здравствуйте, {{ имя|default:"клиент" }}!\n\n'
    + "У нас **новости**: скидки на всё до конца месяца, подробности [на сайте](https://example.com/news).\n\n" * 5
    + "- первое\n- второе\n- третье\n"
)


# CPUs of the server side and of the sending side (`--placement`); empty: left to the kernel.
SERVER_CPUS: set[int] = set()
CLIENT_CPUS: set[int] = set()


def place(placement: str) -> None:
    global SERVER_CPUS, CLIENT_CPUS
    cpus = sorted(os.sched_getaffinity(0))
    if placement == "free" or len(cpus) < 2:
        if placement != "free":
            print(f"only {len(cpus)} CPU: placement {placement!r} ignored")
        SERVER_CPUS, CLIENT_CPUS = set(), set()
    elif placement == "shared":
        SERVER_CPUS = CLIENT_CPUS = {cpus[0]}
    else:
        SERVER_CPUS, CLIENT_CPUS = {cpus[0]}, {cpus[1]}


def pinned(cpus: set[int]) -> Callable[[], None] | None:
    """A preexec_fn that pins the child to `cpus` (None when not pinning)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


@contextlib.contextmanager
def pinned_here(cpus: set[int]) -> Iterator[None]:
    """Pin this process (the raw loop, send_mail()) to `cpus` for a while."""
    before = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


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
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pinned(SERVER_CPUS))
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
message = Message.objects.create(owner=user, subject=sys.argv[2], body=sys.argv[3], format=sys.argv[4])
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


def run_vestnik(
    *, n: int, workers: int, port: int, subject: str = SUBJECT, body: str = BODY, body_format: str = "plain"
) -> tuple[float, float, str]:
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
        [sys.executable, "-c", VESTNIK_RUN, str(n), subject, body, body_format],
        env=env,
        cwd=BASE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=pinned(SERVER_CPUS),
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
                "--skip-checks",
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
            # One worker sends from the client CPU; two share the machine as they would.
            preexec_fn=pinned(CLIENT_CPUS) if workers == 1 else None,
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


def run_smtp_source(*, n: int, port: int) -> float:
    """Postfix's C client: one connection (-s 1, -d), n messages of the size (b) builds."""
    binary = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    if not Path(binary).exists():
        raise SystemExit("smtp-source not found: install Postfix (see the docstring)")
    size = len(build_raw("Получатель 1", "r1@example.com"))
    started = time.perf_counter()
    subprocess.run(
        [binary, "-s", "1", "-d", "-m", str(n), "-l", str(size), "-f", "noreply@vestnik.local"]
        + ["-t", "r@example.com", f"127.0.0.1:{port}"],
        check=True,
        stdout=subprocess.DEVNULL,
        preexec_fn=pinned(CLIENT_CPUS),
    )
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
    parser.add_argument(
        "--placement",
        choices=("split", "free", "shared"),
        default="split",
        help="split (default): the sink on one CPU, the senders on another; free: left to the kernel; shared: one CPU",
    )
    args = parser.parse_args()
    place(args.placement)
    server_cpus, client_cpus = sorted(SERVER_CPUS) or "any", sorted(CLIENT_CPUS) or "any"
    print(f"placement {args.placement}: sink on CPUs {server_cpus}, senders on {client_cpus}")
    global DATABASE_URL_OVERRIDE
    DATABASE_URL_OVERRIDE = args.database_url
    port = free_port()
    sink = start_sink(port)
    a1 = a2 = b = c = d = p = 0.0
    rss1 = rss2 = 0.0
    try:
        # Rounds interleave the four, and the best of each is kept: on a shared machine other
        # load comes and goes, and it should not favour whichever ran in a quiet moment.
        for round_no in range(1, args.repeat + 1):
            tag = f" (round {round_no}/{args.repeat})" if args.repeat > 1 else ""
            with pinned_here(CLIENT_CPUS):
                raw = run_raw(n=args.n, port=port)
            print(f"(b)  raw smtplib loop:   {raw:8.0f} msg/s{tag}")
            v1, r1, summary1 = run_vestnik(n=args.n, workers=1, port=port)
            print(f"(a1) Vestnik, 1 worker:  {v1:8.0f} msg/s  peak worker RSS {r1:.0f} MB  [{summary1}]{tag}")
            v2, r2, summary2 = run_vestnik(n=args.n, workers=2, port=port)
            print(f"(a2) Vestnik, 2 workers: {v2:8.0f} msg/s  peak worker RSS {r2:.0f} MB  [{summary2}]{tag}")
            limit = run_smtp_source(n=args.n, port=port)
            print(f"(d)  smtp-source (C):    {limit:8.0f} msg/s{tag}")
            vp, rp, summary_p = run_vestnik(
                n=args.n, workers=1, port=port, subject=HTML_SUBJECT, body=HTML_BODY, body_format="markdown"
            )
            print(f"(p)  Vestnik, HTML+text: {vp:8.0f} msg/s  peak worker RSS {rp:.0f} MB  [{summary_p}]{tag}")
            a1, a2, b, d, p = max(a1, v1), max(a2, v2), max(b, raw), max(d, limit), max(p, vp)
            rss1 = max(rss1, rp)
            # Last: it sets Django up in this process.
            with pinned_here(CLIENT_CPUS):
                dj = run_send_mail(n=args.n, port=port)
            print(f"(c)  send_mail() each:   {dj:8.0f} msg/s{tag}")
            c = max(c, dj)
            rss1, rss2 = max(rss1, r1), max(rss2, r2)
    finally:
        sink.terminate()
        sink.wait(10)
    if args.repeat > 1:
        print(
            f"best of {args.repeat}: a1={a1:.0f} a2={a2:.0f} b={b:.0f} c={c:.0f} d={d:.0f} p={p:.0f} msg/s; "
            f"peak RSS {rss1:.0f}/{rss2:.0f} MB"
        )
    print(
        f"vestnik/raw={a1 / b:.2f} vestnik2/raw={a2 / b:.2f} vestnik/send_mail={a1 / c:.2f} "
        f"vestnik/limit={a1 / d:.2f} html/limit={p / d:.2f}"
    )


if __name__ == "__main__":
    main()
