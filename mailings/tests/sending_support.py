"""Shared pieces of the delivery engine's tests: a run to send, fast settings, misbehaving SMTP servers."""

import asyncio
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from aiosmtpd.smtp import SMTP as AioSMTP
from django.utils import timezone

from mailings.delivery.runs import attempt_start
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from tests.support import FreePortController, ReceivedMessage, SinkHandler, SmtpServer
from users.models import User


def free_port() -> int:
    """A port nobody listens on right now (for "the server is away" tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def smtp_server_on_free_port() -> SmtpServer:
    return SmtpServer().start()


def fast_settings(settings: Any, *, port: int) -> None:
    """Short timeouts and back-off so every fault resolves in well under a second."""
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 1.0
    settings.SEND_MESSAGE_DEADLINE = 3.0
    settings.SEND_RETRY_BACKOFF = [60, 300]
    settings.SEND_RETRY_MAX_AGE = 3600
    settings.SEND_BATCH_SIZE = 10
    settings.SEND_TASK_MAX_SECONDS = 30.0
    settings.SEND_TASKS_PER_ATTEMPT = 1
    settings.SEND_BREAKER_THRESHOLD = 3
    settings.SEND_BREAKER_BACKOFF = [30, 60]
    settings.SEND_WAKE_INTERVAL = 30
    settings.SEND_RATE_PER_SECOND = 0
    settings.SEND_RATE_PER_HOUR = 0
    settings.SEND_RATE_PER_DAY = 0


def make_run(
    owner: User,
    emails: Sequence[str] = ("a@example.com", "b@example.com", "c@example.com"),
    *,
    names: Sequence[str] | None = None,
    end_in: timedelta = timedelta(days=1),
) -> tuple[Mailing, Attempt]:
    """A mailing whose window is open, with the recipients, and a manual run of it (not yet sent)."""
    now = timezone.now()
    body = "Здравствуйте!\n.Точка в начале строки"
    message = Message.objects.create(owner=owner, subject="Новости недели", body=body)
    mailing = Mailing.objects.create(
        owner=owner, message=message, start_at=now - timedelta(hours=1), end_at=now + end_in
    )
    recipients = [
        Recipient.objects.create(owner=owner, email=email, full_name=(names[i] if names else f"Получатель {i}"))
        for i, email in enumerate(emails)
    ]
    mailing.recipients.set(recipients)
    return mailing, attempt_start(mailing=mailing, trigger=Attempt.Trigger.MANUAL)


def states(attempt: Attempt) -> dict[str, str]:
    return dict(Delivery.objects.filter(attempt=attempt).values_list("email", "state"))


def delivery(attempt: Attempt, email: str) -> Delivery:
    return Delivery.objects.get(attempt=attempt, email=email)


def copies(handler: SinkHandler, email: str) -> int:
    return len(handler.to(email))


class FaultySMTP(AioSMTP):
    """aiosmtpd's SMTP with faults its handlers cannot express: a stalled greeting, a fixed MAIL FROM reply."""

    greeting_delay: float = 0.0
    mail_reply: str | None = None

    async def _handle_client(self) -> None:
        if self.greeting_delay:
            await asyncio.sleep(self.greeting_delay)
        await super()._handle_client()

    async def smtp_MAIL(self, arg: str | None) -> None:
        if self.mail_reply:
            await self.push(self.mail_reply)
            return
        await super().smtp_MAIL(arg)


class DroppingHandler(SinkHandler):
    """Drops the connection at RCPT for some addresses, or right after receiving the message for others."""

    def __init__(self, *, at_rcpt: set[str] | None = None, after_data: set[str] | None = None) -> None:
        super().__init__()
        self.at_rcpt = at_rcpt or set()
        self.after_data = after_data or set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str | bytes:
        if address in self.at_rcpt or "*" in self.at_rcpt:
            server.transport.abort()
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str | bytes:
        reply = await super().handle_DATA(server, session, envelope)
        if self.after_data & set(envelope.rcpt_tos):
            server.transport.abort()
        return reply


class ServerFactory:
    """A real aiosmtpd server whose SMTP class can misbehave; `.handler` records what it accepted."""

    def __init__(self, handler: SinkHandler | None = None, **smtp_kwargs: Any) -> None:
        self.handler = handler or SinkHandler()
        self.smtp_kwargs = smtp_kwargs
        self.smtp_class: type[AioSMTP] = AioSMTP
        self.controller = FreePortController(self.handler, hostname="127.0.0.1", port=0)
        # The Controller builds each session with factory(): this one lets a test swap the SMTP class.
        self.controller.factory = self._factory  # type: ignore[method-assign]

    def _factory(self) -> AioSMTP:
        return self.smtp_class(self.handler, hostname="vestnik-test", **self.smtp_kwargs)

    @property
    def port(self) -> int:
        return int(self.controller.port)


def run_messages(handler: SinkHandler) -> list[ReceivedMessage]:
    """The messages of mailings, without account emails (the owner's finish report goes to the same server)."""
    return [m for m in handler.messages if m.parsed["Auto-Submitted"] != "auto-generated"]


def run_copies(handler: SinkHandler) -> dict[str, int]:
    """Copies of the runs' messages per recipient address."""
    counts: dict[str, int] = {}
    for m in run_messages(handler):
        for r in m.rcpt_tos:
            counts[r] = counts.get(r, 0) + 1
    return counts


def assert_never_twice(handler: SinkHandler) -> None:
    """The guarantee behind every fault test: no recipient of a run received two copies."""
    assert {r: n for r, n in run_copies(handler).items() if n > 1} == {}


@contextmanager
def serving(factory: ServerFactory) -> Iterator[ServerFactory]:
    factory.controller.start()
    try:
        yield factory
    finally:
        factory.controller.stop()
    assert_never_twice(factory.handler)
