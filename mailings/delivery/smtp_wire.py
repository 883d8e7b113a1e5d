"""The wire side of the SMTP client: whole malformed replies, and deadlines a slow server cannot dodge.

Used by `mailings.delivery.smtp.SmtpSession`; nothing here knows about deliveries.
"""

import contextlib
import itertools
import logging
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

logger = logging.getLogger(__name__)

# smtplib's own limit on a reply line; private, so typeshed leaves it out. The reader below must use the same.
_MAXLINE: int = smtplib._MAXLINE  # type: ignore[attr-defined]

if TYPE_CHECKING:
    # Only ever mixed into smtplib's clients (below): typed as one, mypy checks what it uses of them.
    _ClientBase = smtplib.SMTP
else:
    _ClientBase = object


class WholeMalformedReply(_ClientBase):
    """smtplib's getreply, except that an unparsable line is returned whole (smtplib cuts 4 characters)."""

    file: Any
    sock: Any
    _host: str  # smtplib's own, set when given the host at construction; absent from typeshed

    def getreply(self) -> tuple[int, bytes]:
        resp: list[bytes] = []
        if self.file is None:
            self.file = self.sock.makefile("rb")
        while True:
            try:
                line = self.file.readline(_MAXLINE + 1)
            except OSError as exc:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed: " + str(exc)) from exc
            if not line:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            if len(line) > _MAXLINE:
                self.close()
                raise smtplib.SMTPResponseException(500, "Line too long.")
            code = line[:3]
            if not (code.isdigit() and line[3:4] in (b" ", b"-", b"\r", b"\n", b"")):
                resp.append(line.strip(b" \t\r\n"))
                return -1, b"\n".join(resp)
            resp.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":
                return int(code), b"\n".join(resp)


class SMTP(WholeMalformedReply, smtplib.SMTP):
    pass


class SMTP_SSL(WholeMalformedReply, smtplib.SMTP_SSL):
    pass


class Watchdog:
    """One daemon thread per process enforcing per-message and connect deadlines.

    EMAIL_TIMEOUT bounds each socket read, but a server that dribbles a byte per second never
    trips it; at the deadline the watchdog calls `on_fire`, which shuts the socket down so the
    blocked read returns. Each arm gets its own token and firing happens under the lock, so once
    `disarm` has returned, a late firing can no longer hit the socket reused for the next message.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, Callable[[], None]]] = {}
        self._tokens = itertools.count(1)
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, on_fire: Callable[[], None]) -> int:
        with self._lock:
            token = next(self._tokens)
            self._armed[token] = (deadline, on_fire)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="smtp-watchdog", daemon=True)
                self._thread.start()
            return token

    def disarm(self, token: int) -> bool:
        """Returns True if the deadline fired before this call."""
        with self._lock:
            return self._armed.pop(token, None) is None

    def _run(self) -> None:
        while True:
            time.sleep(0.1)
            now = time.monotonic()
            with self._lock:
                due = [k for k, v in self._armed.items() if v[0] <= now]
                for k in due:
                    _deadline, on_fire = self._armed.pop(k)
                    try:
                        on_fire()
                    except Exception:  # the watchdog thread must survive anything
                        logger.exception("smtp watchdog callback failed")


def shutdown(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


watchdog = Watchdog()
