"""Helpers shared by the test suites: a real SMTP server and draining the task queue."""

import asyncio
import email
import email.policy
import inspect
import os
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings


@dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    helo: str = ""  # the name the client gave in EHLO/HELO
    mail_options: list[str] = field(default_factory=list)  # MAIL FROM parameters (BODY=8BITMIME, ...)

    @property
    def parsed(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def subject(self) -> str:
        return str(self.parsed["Subject"])

    @property
    def text(self) -> str:
        body = self.parsed.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""

    @property
    def html(self) -> str:
        body = self.parsed.get_body(preferencelist=("html",))
        return body.get_content() if body is not None else ""


_ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def wire_format_problems(raw: bytes) -> list[str]:
    """What in a message as received breaks the limits Vestnik keeps (mailings/delivery/compose.py).

    7-bit only; header lines within 78 characters and encoded words within 75 (RFC 5322, RFC 2047), except a
    continuation line holding one unbreakable token (a List-Unsubscribe URL), within 998; body lines within 76
    (RFC 2045); Date in +0000.
    """
    problems = []
    if not raw.isascii():
        problems.append("8-bit bytes in the message")
    head, _sep, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        unbreakable = line[:1] in (b" ", b"\t") and b" " not in line.strip() and len(line) <= 998
        if len(line) > 78 and not unbreakable:
            problems.append(f"header line of {len(line)} characters: {line[:60]!r}")
        problems.extend(f"encoded word of {len(w)} characters" for w in _ENCODED_WORD.findall(line) if len(w) > 75)
    for line in body.split(b"\r\n"):
        if len(line) > 76:
            problems.append(f"body line of {len(line)} characters: {line[:60]!r}")
    date = re.search(rb"^Date: ([^\r\n]*)", head, re.MULTILINE)
    if date is None or not date[1].endswith(b" +0000"):
        problems.append(f"Date not in +0000: {date[1] if date else None!r}")
    return problems


# A reply line to send instead of accepting (bytes go out as they are: a reply that is not UTF-8), or None.
Reply = str | bytes | None
RcptHook = Callable[[str], Awaitable[Reply] | Reply]
DataHook = Callable[[list[str]], Awaitable[Reply] | Reply]


async def _resolved(reply: Awaitable[Reply] | Reply) -> Reply:
    return await reply if inspect.isawaitable(reply) else reply


@dataclass
class SinkHandler:
    """aiosmtpd handler that records what it accepts and can be told to misbehave.

    `on_rcpt(address)` / `on_data(rcpt_tos)` may return a reply string (e.g.
    "550 5.1.1 User unknown") to refuse, or None to accept; they may be async
    and `await asyncio.sleep(...)` to stall.
    """

    messages: list[ReceivedMessage] = field(default_factory=list)
    on_rcpt: RcptHook | None = None
    on_data: DataHook | None = None
    # `on_mail(sender)` refuses MAIL FROM with the reply it returns: the whole account, as a provider's throttle.
    on_mail: RcptHook | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: Any
    ) -> str | bytes:
        if self.on_mail is not None:
            reply = await _resolved(self.on_mail(address))
            if reply:
                return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str | bytes:
        if self.on_rcpt is not None:
            reply = await _resolved(self.on_rcpt(address))
            if reply:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str | bytes:
        if self.on_data is not None:
            reply = await _resolved(self.on_data(list(envelope.rcpt_tos)))
            if reply:
                return reply
        with self.lock:
            self.messages.append(
                ReceivedMessage(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    raw=envelope.original_content or envelope.content,
                    helo=str(session.host_name or ""),
                    mail_options=list(envelope.mail_options or []),
                )
            )
        return "250 2.0.0 Ok: queued"

    def to(self, address: str) -> list[ReceivedMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]


def _bound_port(server: asyncio.AbstractServer | None) -> int:
    # aiosmtpd types its server as the abstract one; the event loop made an asyncio.Server, which has sockets.
    assert isinstance(server, asyncio.Server)
    return int(server.sockets[0].getsockname()[1])


class FreePortController(Controller):
    """aiosmtpd's Controller on port 0 (a free port).

    aiosmtpd 1.4.6 checks a new server by connecting to (hostname, port); with
    port 0 that connection is refused, so learn the real port first.
    """

    def _trigger_server(self) -> None:
        self.port = _bound_port(self.server)
        super()._trigger_server()


class SmtpServer:
    """A real aiosmtpd server on 127.0.0.1 and a free port, for one test."""

    def __init__(self, handler: SinkHandler | None = None) -> None:
        self.handler = handler or SinkHandler()
        self.controller = FreePortController(self.handler, hostname="127.0.0.1", port=0)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return _bound_port(self.controller.server)

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.handler.messages


def run_tasks(*, max_tasks: int = 10_000) -> int:
    """Run every task that is due now, in this process and thread, then return how many ran.

    Works inside a test's transaction: for the database backend it claims and
    runs tasks itself (db_worker's loop closes the connection of an open
    transaction); for RQ it runs a burst SimpleWorker.
    """
    backend = settings.TASKS["default"]["BACKEND"]
    if backend == "django_tasks_db.DatabaseBackend":
        from django_tasks_db.management.commands.db_worker import Worker
        from django_tasks_db.models import DBTaskResult

        worker = Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="test-worker",
            excluded_queue_names=[],
        )
        ran = 0
        while ran < max_tasks:
            task_result = DBTaskResult.objects.ready().first()
            if task_result is None:
                break
            task_result.claim(worker.worker_id)
            worker.run_task(task_result)
            ran += 1
        return ran
    elif backend == "django_tasks_rq.RQBackend":
        import django_rq
        from django_tasks_rq import Job

        # Not the rqworker command: it closes the database connection, and with it the test's transaction.
        # The class by its path: django-rq's annotation still wants a subclass of Worker, which SimpleWorker no
        # longer is in rq 3.
        rq_worker = django_rq.get_worker(*settings.TASK_QUEUES, job_class=Job, worker_class="rq.worker.SimpleWorker")
        rq_worker.work(burst=True, max_jobs=max_tasks, with_scheduler=False)
        return -1
    return 0


def clear_tasks() -> None:
    """Forget every queued task (both backends)."""
    backend = settings.TASKS["default"]["BACKEND"]
    if backend == "django_tasks_db.DatabaseBackend":
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.all().delete()
    elif backend == "django_tasks_rq.RQBackend":
        import django_rq

        for name in settings.TASK_QUEUES:
            django_rq.get_queue(name).empty()


def process_env(
    *, database_url: str, smtp_port: int, keep_task_backend: bool = False, **overrides: str
) -> dict[str, str]:
    """The environment of a real Vestnik process (worker, scheduler, `manage.py shell`) started by a test.

    Production settings (DEBUG off) with a throwaway secret, the given database, mail to the
    SMTP server on 127.0.0.1:`smtp_port`, readable logs. The test settings' relaxed values in
    os.environ are left out; so are REDIS_URL and TASKS_BACKEND unless `keep_task_backend`.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "SESSION_", "CSRF_"))}
    if not keep_task_backend:
        env.pop("REDIS_URL", None)
        env.pop("TASKS_BACKEND", None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="tests-only-not-a-secret",
        DEBUG="false",
        DATABASE_URL=database_url,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_USE_TLS="false",
        EMAIL_USE_SSL="false",
        EMAIL_TIMEOUT="5",
        LOG_LEVEL="INFO",
        LOG_FORMAT="plain",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env
