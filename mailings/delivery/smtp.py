"""The SMTP side of the delivery engine: one message per transaction, every stage's reply classified.

Django's `send_messages()` is not enough here: with several addresses a refused one
is dropped silently, a 421 leaves a dead connection, and it cannot tell "lost before the final
dot" (safe to retry) from "lost after it" (the server may have the message). So we drive
smtplib command by command and classify each outcome per the failure policy of docs/architecture.md.
"""

import dataclasses
import logging
import re
import select
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from core.logs import redact
from mailings.delivery.reasons import Reason, reason
from mailings.delivery.smtp_wire import SMTP, SMTP_SSL, shutdown, watchdog

logger = logging.getLogger(__name__)

REPLY_MAX_CHARS = 1000
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


class _SendFailed(Exception):
    """A write that failed after `sent` bytes had been taken by the kernel."""

    def __init__(self, error: BaseException, sent: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent


def _send_counted(sock: socket.socket, data: bytes) -> None:
    """`sock.sendall(data)`, except that a failure says how much the kernel had taken (`_SendFailed.sent`).

    Written by hand because `socket.sendall` does not tell: with the next envelope written behind a message's final
    dot, what matters is whether the dot itself went (the server may then have the message) or not.
    """
    view = memoryview(data)
    sent = 0
    try:
        while sent < len(data):
            sent += sock.send(view[sent:])
    except (OSError, AttributeError) as exc:
        raise _SendFailed(exc, sent) from exc


def _peer_spoke_or_left(sock: socket.socket | None) -> bool:
    """True when the server closed the connection or sent something nobody asked for; one poll, no wait."""
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class Outcome(StrEnum):
    SENT = "sent"  # 2xx after the final dot
    FAILED = "failed"  # 5xx on RCPT / DATA for this recipient
    TRANSIENT = "transient"  # 4xx, or trouble before the final dot: retry with back-off
    UNKNOWN = "unknown"  # no reply / lost / malformed after the final dot: never resend
    SYSTEMIC = "systemic"  # the server or account is wrong, not the recipient: open the breaker
    ABANDONED = "abandoned"  # we lost our lease before the final dot and did not send it


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    code: int | None = None
    reply: str = ""
    reason: Reason | None = None
    # The connection cannot carry another message (closed, or in an unknown protocol state).
    connection_broken: bool = False
    # Counts towards the breaker's "K consecutive connection failures".
    connection_failure: bool = False


class SystemicError(Exception):
    """The server or account cannot be used now: refused connection, TLS/AUTH failure, greeting timeout."""

    def __init__(self, why: Reason, *, code: int | None = None, reply: str = "", immediate: bool = True) -> None:
        super().__init__(str(why))
        self.reason = why
        self.code = code
        self.reply = reply
        # False: a plain connection failure that opens the breaker only after K in a row.
        self.immediate = immediate


def sanitize_reply(reply: bytes | str | None, *, limit: int = REPLY_MAX_CHARS) -> str:
    """A server reply fit for storing and showing: valid UTF-8, no control characters, no secrets, bounded."""
    if reply is None:
        return ""
    text = reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else reply
    # A server (or an exception text) may echo the login or password back: never store it.
    text = redact(_CONTROL_CHARS.sub(" ", text).strip())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _format_reply(code: int, message: bytes | str) -> str:
    """`code text` as stored on a Delivery (just the text when the line had no valid code)."""
    if code < 0:
        return sanitize_reply(message)
    return sanitize_reply(f"{code} {sanitize_reply(message, limit=REPLY_MAX_CHARS * 2)}")


def _stage_ok(stage: str, code: int) -> bool:
    return code == 354 if stage == "DATA" else 200 <= code <= 299


def _is_invented_line_too_long(exc: smtplib.SMTPResponseException) -> bool:
    # smtplib raises this itself when a reply line exceeds 8 KB: no verdict from the server.
    return exc.smtp_code == 500 and exc.smtp_error in (b"Line too long.", "Line too long.")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str
    password: str
    use_tls: bool
    use_ssl: bool
    timeout: float
    local_hostname: str
    # An owner's account is keyed by its id (`acct:<id>`, mailings/delivery/accounts.py): two owners who
    # log in to the same mailbox still get a breaker and counters each.
    key: str = ""

    @property
    def account(self) -> str:
        """The key of the shared breaker and counters: the account's, or server and login; never the password."""
        if self.key:
            return self.key
        return f"{self.username}@{self.host}:{self.port}" if self.username else f"{self.host}:{self.port}"


class SmtpSession:
    """One reused SMTP connection sending one message per transaction."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None
        self._deadline_hit = False
        self.pipelining = False
        self.smtputf8 = False
        self._eight_bit = False
        # The recipient whose DATA the server accepted (354) and whose final dot is not written yet: this message's,
        # or the next one's, whose envelope went out behind the previous final dot (`send`'s `next_to`). While it
        # is set, nothing but that message may be written.
        self._data_open_for: str | None = None

    @property
    def is_open(self) -> bool:
        return self._smtp is not None and self._smtp.sock is not None

    def _timeout(self, deadline: float) -> float:
        return max(0.05, min(self.config.timeout, deadline - time.monotonic()))

    def open(self, *, deadline: float) -> None:
        """Connect, greet, STARTTLS and log in. Raises SystemicError when the server cannot be used.

        The whole sequence is bounded by `deadline` (the watchdog): a server that dribbles its
        greeting one line at a time never trips EMAIL_TIMEOUT, which bounds each read only.
        """
        cfg = self.config
        kwargs: dict = {"local_hostname": cfg.local_hostname, "timeout": self._timeout(deadline)}
        if cfg.use_ssl:
            kwargs["context"] = ssl.create_default_context()
        # Created unconnected, so that the watchdog is armed before the first byte is awaited.
        smtp = (SMTP_SSL if cfg.use_ssl else SMTP)(**kwargs)
        # What smtplib sets when given the host at construction: TLS checks the certificate against it.
        smtp._host = cfg.host
        self._deadline_hit = False
        token = watchdog.arm(deadline, lambda: self._fire(smtp))
        try:
            self._connect(smtp)
        except SystemicError as exc:
            fired = watchdog.disarm(token)
            if fired or self._deadline_hit:
                raise SystemicError(reason("connect_timeout")) from exc
            raise
        if watchdog.disarm(token):
            # Fired just as the login finished: the socket is already shut down.
            self._drop(smtp)
            raise SystemicError(reason("connect_timeout"))
        # RFC 2920: only when the server says it may (aiosmtpd, for one, does not).
        self.pipelining = smtp.has_extn("pipelining")
        # RFC 6531: a recipient with a non-ASCII local part may go only to a server that offers SMTPUTF8.
        self.smtputf8 = smtp.has_extn("smtputf8")
        self._eight_bit = smtp.has_extn("8bitmime")
        self._smtp = smtp

    def _connect(self, smtp: smtplib.SMTP) -> None:
        cfg = self.config
        try:
            code, msg = smtp.connect(cfg.host, cfg.port)
            if code != 220:
                self._drop(smtp)
                raise smtplib.SMTPConnectError(code, msg)
        except ConnectionRefusedError as exc:
            raise SystemicError(reason("connection_refused", error=exc)) from exc
        except ssl.SSLError as exc:
            raise SystemicError(reason("tls_error", error=sanitize_reply(str(exc)))) from exc
        except smtplib.SMTPConnectError as exc:
            reply = _format_reply(exc.smtp_code, exc.smtp_error)
            raise SystemicError(reason("refused_at_connect"), code=exc.smtp_code, reply=reply) from exc
        except smtplib.SMTPServerDisconnected as exc:
            self._drop(smtp)
            if isinstance(exc.__context__, TimeoutError):
                raise SystemicError(reason("no_greeting")) from exc
            raise SystemicError(reason("lost_before_greeting"), immediate=False) from exc
        except TimeoutError as exc:
            self._drop(smtp)
            raise SystemicError(reason("connection_timeout")) from exc
        except OSError as exc:
            self._drop(smtp)
            raise SystemicError(reason("connection_error", error=exc), immediate=False) from exc
        try:
            if cfg.use_tls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.username:
                smtp.login(cfg.username, cfg.password)
            else:
                smtp.ehlo_or_helo_if_needed()
        except smtplib.SMTPAuthenticationError as exc:
            self._drop(smtp)
            reply = _format_reply(exc.smtp_code, exc.smtp_error)
            raise SystemicError(reason("auth_failed"), code=exc.smtp_code, reply=reply) from exc
        except (ssl.SSLError, smtplib.SMTPNotSupportedError) as exc:
            self._drop(smtp)
            raise SystemicError(reason("tls_error", error=sanitize_reply(str(exc)))) from exc
        except smtplib.SMTPServerDisconnected as exc:
            self._drop(smtp)
            raise SystemicError(reason("lost_at_login"), immediate=False) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop(smtp)
            raise SystemicError(
                reason("refused_at_login"), code=exc.smtp_code, reply=_format_reply(exc.smtp_code, exc.smtp_error)
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop(smtp)
            raise SystemicError(reason("login_error", error=sanitize_reply(str(exc)))) from exc

    @staticmethod
    def _drop(smtp: smtplib.SMTP) -> None:
        try:
            smtp.close()
        except Exception:  # closing a broken socket must never mask the real error
            logger.debug("smtp close failed", exc_info=True)

    def expect(self, to_addr: str | None) -> None:
        """The next message goes to `to_addr` (None: none goes now). A DATA opened ahead for another recipient is
        abandoned by dropping the connection: a server discards a message whose final dot never came (RFC 5321
        4.1.1.4), and nothing else can end a DATA without sending it."""
        if self._data_open_for is not None and self._data_open_for != to_addr:
            self._broken()

    def close(self) -> None:
        """Say QUIT politely when the connection is healthy; never raise."""
        if self._data_open_for is not None:
            # QUIT now would be read as message text: just drop it (expect()).
            self._broken()
            return
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        quit_seconds = min(self.config.timeout, 2.0)
        # QUIT's reply could be dribbled forever too: bounded like any other exchange.
        token = watchdog.arm(time.monotonic() + quit_seconds, lambda: self._fire(smtp))
        try:
            if smtp.sock is not None:
                smtp.sock.settimeout(quit_seconds)
                smtp.quit()
        except Exception:  # the server may already be gone; the socket is closed below anyway
            pass
        finally:
            watchdog.disarm(token)
        self._drop(smtp)

    def _broken(self) -> None:
        self._data_open_for = None
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            self._drop(smtp)

    def _rset(self) -> bool:
        assert self._smtp is not None
        try:
            code, _msg = self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._broken()
            return False
        if code != 250:
            self._broken()
            return False
        return True

    def send(
        self,
        *,
        from_addr: str,
        to_addr: str,
        data: bytes,
        deadline: float,
        before_dot: Callable[[], bool],
        smtputf8: bool = False,
        next_to: str | None = None,
        next_smtputf8: bool = False,
    ) -> SendResult:
        """Send one message to one recipient over the open connection and classify the outcome.

        `next_to`: the recipient of the message that will follow, when known. With PIPELINING its MAIL, RCPT and
        DATA go out in the same write as this message's final dot (RFC 2920 allows the end of the message content
        to lead a group), and are read after this message's reply: one round trip per message instead of two.
        The next `send` must then be to that recipient; anything else first calls `expect`, which drops the
        connection (the server discards the message it was waiting for). Only this message's outcome is returned:
        trouble with the envelope sent ahead only closes or resets the connection, and the next message is then
        sent in the ordinary way.

        `smtputf8`: the envelope or headers hold UTF-8 (RFC 6531); MAIL FROM then says SMTPUTF8 (and
        BODY=8BITMIME where offered). Only when the server offered it: the caller checks `self.smtputf8`.

        `before_dot` runs after the server said 354 and before the message and its final dot
        go out; it records "handed over" durably. If it returns False (our lease is gone) the
        message is not sent. `data` must be CRLF-terminated lines.
        """
        smtp = self._smtp
        assert smtp is not None and smtp.sock is not None
        self._deadline_hit = False
        sock = smtp.sock
        sock.settimeout(self._timeout(deadline))
        token = watchdog.arm(deadline, lambda: self._fire(smtp))
        try:
            mail_params = self._mail_params(smtputf8)
            ahead = b""
            if next_to is not None and self.pipelining:
                next_params = self._mail_params(next_smtputf8)
                ahead = self._envelope(from_addr=from_addr, to_addr=next_to, mail_params=next_params)
            result = self._transaction(
                smtp,
                from_addr=from_addr,
                to_addr=to_addr,
                data=data,
                before_dot=before_dot,
                mail_params=mail_params,
                ahead=ahead,
                next_to=next_to,
            )
        finally:
            fired = watchdog.disarm(token)
        if fired and not result.connection_broken:
            # The deadline fired as the reply came in: the socket is shut down, do not reuse it.
            self._broken()
            result = dataclasses.replace(result, connection_broken=True)
        return result

    def _mail_params(self, smtputf8: bool) -> str:
        if not smtputf8:
            return ""
        return " BODY=8BITMIME SMTPUTF8" if self._eight_bit else " SMTPUTF8"

    @staticmethod
    def _envelope(*, from_addr: str, to_addr: str, mail_params: str) -> bytes:
        # smtplib.send encodes str as ASCII: UTF-8 addresses (SMTPUTF8) go as bytes.
        return f"MAIL FROM:<{from_addr}>{mail_params}\r\nRCPT TO:<{to_addr}>\r\nDATA\r\n".encode()

    def _fire(self, smtp: smtplib.SMTP) -> None:
        """The watchdog's action (under its lock): shut the socket down so the blocked read returns."""
        self._deadline_hit = True
        shutdown(smtp.sock)

    def _lost(self, exc: BaseException, *, after_dot: bool) -> SendResult:
        self._broken()
        if self._deadline_hit:
            what = reason("message_deadline")
        elif isinstance(exc.__context__, TimeoutError) or isinstance(exc, TimeoutError):
            what = reason("reply_timeout")
        else:
            what = reason("connection_lost")
        if after_dot:
            return SendResult(
                Outcome.UNKNOWN,
                reason=reason("lost_after_dot", what=what),
                connection_broken=True,
                connection_failure=True,
            )
        return SendResult(
            Outcome.TRANSIENT,
            reason=reason("lost_before_dot", what=what),
            connection_broken=True,
            connection_failure=True,
        )

    def _reset_or_drop(self, can_reset: bool) -> bool:
        """RSET for the next message; True if the connection had to be dropped instead."""
        if can_reset and self._rset():
            return False
        self._broken()
        return True

    def _refusal(self, stage: str, code: int, msg: bytes, *, can_reset: bool = True) -> SendResult:
        """A reply other than the expected one to MAIL, RCPT or DATA (before the final dot).

        `can_reset` is False when the connection is gone or in an unknown state (a pipelined
        DATA the server accepted although an earlier command failed): it is dropped, not reset.
        """
        reply = _format_reply(code, msg)
        if code == 530 or (stage == "MAIL" and 500 <= code <= 599):
            # Not this recipient's fault: authentication required / sender refused for everyone.
            self._reset_or_drop(can_reset)
            return SendResult(Outcome.SYSTEMIC, code, reply, reason=reason("sender_refused", stage=stage))
        if stage == "MAIL" and 400 <= code <= 499:
            # Account-wide trouble ("451 4.7.1 Ratelimit exceeded"): retrying per recipient would only
            # burn every recipient's tries; the breaker pauses the whole account instead.
            if code == 421:
                self._broken()
            else:
                self._reset_or_drop(can_reset)
            return SendResult(
                Outcome.SYSTEMIC,
                code,
                reply,
                reason=reason("sender_deferred", stage=stage),
            )
        if code == 421:
            # The server is closing the channel; smtplib would keep using a dead connection.
            self._broken()
            return SendResult(
                Outcome.TRANSIENT,
                code,
                reply,
                reason=reason("server_closed", stage=stage),
                connection_broken=True,
                connection_failure=True,
            )
        if 400 <= code <= 499:
            broken = self._reset_or_drop(can_reset)
            return SendResult(
                Outcome.TRANSIENT,
                code,
                reply,
                reason=reason("temporary", stage=stage),
                connection_broken=broken,
            )
        if 500 <= code <= 599:
            broken = self._reset_or_drop(can_reset)
            return SendResult(
                Outcome.FAILED,
                code,
                reply,
                reason=reason("permanent", stage=stage),
                connection_broken=broken,
            )
        # -1 (unparsable) or a code that makes no sense here: protocol state unknown.
        self._broken()
        return SendResult(
            Outcome.TRANSIENT,
            code if code > 0 else None,
            reply,
            reason=reason("malformed", stage=stage),
            connection_broken=True,
            connection_failure=True,
        )

    def _envelope_pipelined(
        self, smtp: smtplib.SMTP, *, from_addr: str, to_addr: str, mail_params: str = ""
    ) -> SendResult | None:
        """MAIL, RCPT and DATA in one write (RFC 2920), replies read in order; None when DATA got 354.

        Saves two round trips per message. Each reply is still judged for its own stage, and a
        421 is honoured at once (the server closes, later replies will never come).
        """
        smtp.send(self._envelope(from_addr=from_addr, to_addr=to_addr, mail_params=mail_params))
        replies: list[tuple[str, int, bytes]] = []
        try:
            for stage in ("MAIL", "RCPT", "DATA"):
                code, msg = smtp.getreply()
                replies.append((stage, code, msg))
                if code == 421:
                    break
        except smtplib.SMTPServerDisconnected:
            # Lost mid-way: a refusal already read explains it; otherwise it is a plain loss.
            if not any(not _stage_ok(stage, code) for stage, code, _msg in replies):
                raise
        for stage, code, msg in replies:
            if not _stage_ok(stage, code):
                data_open = bool(replies) and replies[-1][0] == "DATA" and replies[-1][1] == 354
                complete = len(replies) == 3
                return self._refusal(stage, code, msg, can_reset=complete and not data_open)
        if len(replies) < 3:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return None

    def _transaction(
        self,
        smtp: smtplib.SMTP,
        *,
        from_addr: str,
        to_addr: str,
        data: bytes,
        before_dot: Callable[[], bool],
        mail_params: str = "",
        ahead: bytes = b"",
        next_to: str | None = None,
    ) -> SendResult:
        try:
            # Addresses are validated when the message is built, so the commands are written
            # directly: smtplib's quoteaddr() re-parses them and costs more than the exchange.
            went_ahead = self._data_open_for is not None
            if went_ahead:
                # This message's envelope went out behind the previous message's dot and was accepted.
                assert self._data_open_for == to_addr, "SmtpSession.expect() must be called before another recipient"
            elif self.pipelining:
                refusal = self._envelope_pipelined(smtp, from_addr=from_addr, to_addr=to_addr, mail_params=mail_params)
                if refusal is not None:
                    return refusal
            else:
                smtp.send(f"MAIL FROM:<{from_addr}>{mail_params}\r\n".encode())
                code, msg = smtp.getreply()
                if not 200 <= code <= 299:
                    return self._refusal("MAIL", code, msg)
                smtp.send(f"RCPT TO:<{to_addr}>\r\n".encode())
                code, msg = smtp.getreply()
                if not 200 <= code <= 299:
                    return self._refusal("RCPT", code, msg)
                code, msg = smtp.docmd("data")
                if code != 354:
                    return self._refusal("DATA", code, msg)
        except smtplib.SMTPResponseException as exc:
            if _is_invented_line_too_long(exc):
                self._broken()
                return SendResult(
                    Outcome.TRANSIENT,
                    reason=reason("reply_too_long"),
                    connection_broken=True,
                )
            return self._lost(exc, after_dot=False)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            return self._lost(exc, after_dot=False)
        self._data_open_for = to_addr
        if went_ahead and _peer_spoke_or_left(smtp.sock):
            # The DATA was opened ahead, while the previous message was answered: a server that has since closed the
            # connection (or said something unasked, a 421 on its way out) would leave this message's dot reply
            # missing, and an unknown outcome is never retried. Found before the hand-over, it is a plain loss.
            return self._lost(smtplib.SMTPServerDisconnected("closed by the server between messages"), after_dot=False)

        if not before_dot():
            # Closing mid-DATA without the dot makes the server discard the message.
            self._broken()
            return SendResult(Outcome.ABANDONED, reason=reason("lease_lost"), connection_broken=True)

        # Dot-stuffing (RFC 5321 4.5.2); most messages have no line starting with a dot, and the search is cheaper.
        payload = _DOT_AT_LINE_START.sub(b"..", data) if data.startswith(b".") or b"\n." in data else data
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        message = payload + b".\r\n"
        try:
            assert smtp.sock is not None
            _send_counted(smtp.sock, message + ahead)
        except _SendFailed as exc:
            # The dot counts as sent once the kernel took all of it: the server may then have the message. Before
            # that it cannot, whatever became of the envelope sent ahead behind it.
            return self._lost(exc.error, after_dot=exc.sent >= len(message))
        self._data_open_for = None
        result = self._dot_reply(smtp, pipelined=bool(ahead))
        if ahead and self.is_open:
            self._read_ahead(smtp, next_to=next_to)
        return result

    def _read_ahead(self, smtp: smtplib.SMTP, *, next_to: str | None) -> None:
        """The replies to the envelope sent behind the final dot; the message's own outcome is already decided.

        All accepted: the next message's DATA is open. Otherwise the connection is reset (or, when a DATA is
        open after all or the state is unclear, dropped), and the next message goes the ordinary way.
        """
        replies: list[tuple[str, int]] = []
        try:
            for stage in ("MAIL", "RCPT", "DATA"):
                code, _msg = smtp.getreply()
                replies.append((stage, code))
                if code == 421:
                    break
        except (smtplib.SMTPException, OSError):
            self._broken()
            return
        if len(replies) == 3 and all(_stage_ok(stage, code) for stage, code in replies):
            self._data_open_for = next_to
            return
        data_code = replies[-1][1] if len(replies) == 3 else None
        if data_code is None or data_code == 421 or not 400 <= data_code <= 599:
            # Closing, cut short, or a DATA answered with anything but a refusal (354 after an earlier refusal, a
            # malformed line): the server may be waiting for message text, where RSET would be read as text.
            self._broken()
            return
        # Refused part-way: reset (a failed RSET drops the connection). It also serves a refused message's dot.
        self._rset()

    def _dot_reply(self, smtp: smtplib.SMTP, *, pipelined: bool) -> SendResult:
        """The reply to the final dot. `pipelined`: an envelope follows it, and its replies decide whether the
        connection must be reset after a refusal (`_read_ahead` does it); otherwise RSET is sent here."""
        try:
            code, msg = smtp.getreply()
        except smtplib.SMTPResponseException as exc:
            self._broken()
            if _is_invented_line_too_long(exc):
                return SendResult(
                    Outcome.UNKNOWN,
                    reason=reason("dot_reply_too_long"),
                    connection_broken=True,
                )
            return SendResult(Outcome.UNKNOWN, reason=reason("error_after_dot"), connection_broken=True)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            return self._lost(exc, after_dot=True)

        reply = _format_reply(code, msg)
        if 200 <= code <= 299:
            return SendResult(Outcome.SENT, code, reply)
        if code == 421 or 400 <= code <= 499:
            broken = code == 421 or (not pipelined and not self._rset())
            if broken:
                self._broken()
            return SendResult(
                Outcome.TRANSIENT,
                code,
                reply,
                reason=reason("temporary_after_dot"),
                connection_broken=broken,
                connection_failure=code == 421,
            )
        if 500 <= code <= 599:
            broken = not pipelined and not self._rset()
            return SendResult(
                Outcome.FAILED, code, reply, reason=reason("permanent", stage="DATA"), connection_broken=broken
            )
        self._broken()
        return SendResult(
            Outcome.UNKNOWN,
            code if code > 0 else None,
            reply,
            reason=reason("malformed_dot_reply"),
            connection_broken=True,
        )
