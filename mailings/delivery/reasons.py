"""Why something happened, stored as a code with parameters and put into words only when shown.

The engine stores a `Reason` (a code from `TEXTS` and its parameters) for a delivery (`Delivery.reason`
and `reason_params`), an attempt's note (`Attempt.note`, `note_params`), the breaker's cause
(`SmtpAccountState.breaker_reason`, `breaker_reason_params`) and the entries of an attempt's reply
summary (`Attempt.summary`). A page renders them with `reason_text` in the reader's language.

A parameter is either one of our reasons (stored nested as `{"code": ..., "params": ...}` and translated
in turn) or text that is not ours (a server's reply, an operating system's error, an SMTP stage such as
`RCPT`), shown as it came. A `reply` parameter that the code's text does not place is appended after
a colon: the breaker's cause is "what we concluded: what the server said".
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, gettext_noop

# Longest foreign text kept in a parameter (a server's reply, an OS error).
PARAM_MAX_CHARS = 200

# Every code the engine stores, with its wording in the service's language (the msgid).
TEXTS: dict[str, str] = {
    # A run, or the rest of it, may not be sent (rules.send_block).
    "attempt_deleted": gettext_noop("попытка удалена"),
    "mailing_disabled": gettext_noop("рассылка отключена"),
    "owner_blocked": gettext_noop("владелец заблокирован"),
    "window_closed": gettext_noop("время рассылки истекло"),
    # Not the mailing's end: the hours of its send window (windows.py) ended; the message waits for the next.
    "send_window_closed": gettext_noop("окно отправки закрылось"),
    # The address is on the owner's suppression list (suppressions/): left out of the run or stopped mid-run.
    # «отписался» is the recipient's own request; the others say why the address is on the list
    # (`suppression_reason_code`).
    "unsubscribed": gettext_noop("отписался"),
    "suppressed_bounce": gettext_noop("адрес в списке исключений: возврат"),
    "suppressed_complaint": gettext_noop("адрес в списке исключений: жалоба на спам"),
    "suppressed_owner": gettext_noop("адрес в списке исключений: добавлен владельцем"),
    # The engine.
    "handover_not_recorded": gettext_noop("не удалось записать передачу письма"),
    "not_built": gettext_noop("письмо не собрано (build): %(error)s"),
    "connection_failures": gettext_noop("несколько разрывов соединения подряд"),
    "retries_exhausted": gettext_noop("повторы исчерпаны: %(reason)s"),
    "worker_lost_after_handover": gettext_noop(
        "обработчик остановлен после передачи письма серверу: возможна доставка"
    ),
    # Building a message (compose.py).
    "bad_address": gettext_noop("некорректный адрес"),
    "bad_domain": gettext_noop("некорректный домен адреса"),
    "non_ascii_address": gettext_noop("адрес с не-ASCII символами не поддерживается"),
    "smtputf8_unsupported": gettext_noop(
        "сервер не принимает адреса с не-ASCII символами (нет SMTPUTF8): этому получателю письмо не отправить"
    ),
    "message_unbuildable": gettext_noop("письмо не собрать: %(error)s"),
    "header_unbuildable": gettext_noop("заголовок не собрать: %(error)s"),
    # Connecting and logging in (smtp.py): systemic, they open the breaker.
    "connect_timeout": gettext_noop("сервер не ответил вовремя при соединении"),
    "connection_refused": gettext_noop("соединение отклонено: %(error)s"),
    "tls_error": gettext_noop("ошибка TLS: %(error)s"),
    "refused_at_connect": gettext_noop("сервер отказал при соединении"),
    "no_greeting": gettext_noop("нет приветствия сервера (тайм-аут)"),
    "lost_before_greeting": gettext_noop("соединение разорвано до приветствия"),
    "connection_timeout": gettext_noop("тайм-аут соединения"),
    "connection_error": gettext_noop("ошибка соединения: %(error)s"),
    "auth_failed": gettext_noop("ошибка авторизации на сервере"),
    "lost_at_login": gettext_noop("соединение разорвано при входе"),
    "refused_at_login": gettext_noop("сервер отказал при входе"),
    "login_error": gettext_noop("ошибка входа: %(error)s"),
    # The SMTP account a mailing sends through (accounts.py): the run waits while one holds.
    "account_disabled": gettext_noop("учётная запись SMTP «%(name)s» отключена менеджером: %(why)s"),
    "account_deleted": gettext_noop("учётная запись SMTP рассылки удалена"),
    "service_account_not_allowed": gettext_noop(
        "рассылке не выбрана учётная запись SMTP, а служебная для рассылок не разрешена"
    ),
    "password_undecryptable": gettext_noop("пароль учётной записи SMTP «%(name)s» не расшифровать: введите его заново"),
    # «Проверить соединение» (senders/tasks.py).
    "check_ok": gettext_noop("соединение, шифрование и вход прошли успешно"),
    # One message's exchange (smtp.py).
    "message_deadline": gettext_noop("превышено время на сообщение"),
    "reply_timeout": gettext_noop("нет ответа сервера (тайм-аут)"),
    "connection_lost": gettext_noop("соединение разорвано"),
    "lost_after_dot": gettext_noop("%(what)s после завершающей точки: сервер мог принять письмо"),
    "lost_before_dot": gettext_noop("%(what)s до завершающей точки"),
    "sender_refused": gettext_noop("сервер отклонил отправителя (%(stage)s)"),
    "sender_deferred": gettext_noop("сервер временно отклонил отправителя (%(stage)s)"),
    "server_closed": gettext_noop("сервер закрыл соединение (%(stage)s)"),
    "temporary": gettext_noop("временный отказ (%(stage)s)"),
    "permanent": gettext_noop("постоянный отказ (%(stage)s)"),
    "malformed": gettext_noop("непонятный ответ сервера (%(stage)s)"),
    "reply_too_long": gettext_noop("ответ сервера длиннее 8 КБ (ответ придуман клиентом, не сервером)"),
    "lease_lost": gettext_noop("задание потеряло право на доставку"),
    "dot_reply_too_long": gettext_noop("ответ на завершающую точку длиннее 8 КБ: сервер мог принять письмо"),
    "error_after_dot": gettext_noop("ошибка после завершающей точки"),
    "temporary_after_dot": gettext_noop("временный отказ после завершающей точки"),
    "malformed_dot_reply": gettext_noop("непонятный ответ на завершающую точку: сервер мог принять письмо"),
    # An attempt's note (schedule.py).
    "missed_slot": gettext_noop("пропущено: сервис был недоступен"),
    "missed_slots": gettext_noop("пропущено: сервис был недоступен (и ещё %(count)d более ранних запусков)"),
    "late_run": gettext_noop("запуск с опозданием: сервис был недоступен"),
    "outside_send_window": gettext_noop("пропущено: окно отправки откроется только после следующего запуска"),
    # A reply summary's last entry (run_finish.py).
    "more_variants": gettext_noop("ещё вариантов: %(n)s"),
    # A text stored before reasons became codes that matched no code (the 0006 migration): shown as it was.
    "legacy": "%(text)s",
}


# The server or the account cannot be used (the breaker's causes): not a verdict on any recipient.
SYSTEMIC_CODES = frozenset(
    {
        "connect_timeout",
        "connection_refused",
        "tls_error",
        "refused_at_connect",
        "no_greeting",
        "lost_before_greeting",
        "connection_timeout",
        "connection_error",
        "auth_failed",
        "lost_at_login",
        "refused_at_login",
        "login_error",
        "sender_refused",
        "sender_deferred",
        "connection_failures",
    }
)


# Suppression.source → the reason a skipped delivery gets (suppressions/models.py; plain strings, so that this
# module imports no app). A source not listed (a new one) reads «отписался».
SUPPRESSION_SOURCE_REASONS: dict[str, str] = {
    "link": "unsubscribed",
    "one_click": "unsubscribed",
    "mailto": "unsubscribed",
    "owner": "suppressed_owner",
    "api": "suppressed_owner",  # the owner's own program adds it
    "bounce_hard": "suppressed_bounce",
    "bounce_soft": "suppressed_bounce",
    "complaint": "suppressed_complaint",
}


def suppression_reason_code(source: str) -> str:
    """The reason code of a delivery skipped because its address is suppressed with this source."""
    return SUPPRESSION_SOURCE_REASONS.get(source, "unsubscribed")


@dataclass(frozen=True)
class Reason:
    """A code from TEXTS and its parameters: str, int, or a nested Reason."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in TEXTS:
            raise ValueError(f"unknown reason code: {self.code!r}")

    def with_params(self, **params: Any) -> "Reason":
        return Reason(self.code, {**self.params, **params})

    def stored_params(self) -> dict[str, Any] | None:
        """The parameters as JSON for the `*_params` column; None when there are none."""
        if not self.params:
            return None
        return {name: _param_to_json(value) for name, value in self.params.items()}

    @classmethod
    def from_stored(cls, code: str, params: Mapping[str, Any] | None) -> "Reason | None":
        """The reason stored as `code` and `params` (a column pair), or None for an empty code."""
        if not code:
            return None
        if code not in TEXTS:
            # A code from a newer release read by an older one: keep it visible rather than fail a page.
            return cls("legacy", {"text": code})
        return cls(code, {name: _param_from_json(value) for name, value in (params or {}).items()})

    def text(self) -> str:
        """In the active language."""
        template = TEXTS[self.code]
        translated = gettext(template) if self.code != "legacy" else template
        values = {name: _param_text(value) for name, value in self.params.items()}
        try:
            text = translated % values if "%(" in translated else translated
        except (KeyError, TypeError, ValueError):
            # A translation that names a parameter the code lacks must not break a page.
            text = template % values if "%(" in template else template
        reply = values.get("reply")
        if reply and "%(reply)" not in template:
            text = f"{text}: {reply}"
        return text

    def __str__(self) -> str:
        return self.text()


def reason(code: str, **params: Any) -> Reason:
    """A Reason, with foreign text parameters bounded."""
    return Reason(code, {name: _bounded(value) for name, value in params.items()})


def reason_text(code: str, params: Mapping[str, Any] | None) -> str:
    """A stored reason (code and params columns) in the active language; "" when there is none."""
    found = Reason.from_stored(code, params)
    return found.text() if found is not None else ""


def _bounded(value: Any) -> Any:
    if isinstance(value, (Reason, int)):
        return value
    return str(value)[:PARAM_MAX_CHARS]


def _param_to_json(value: Any) -> Any:
    if isinstance(value, Reason):
        return {"code": value.code, "params": value.stored_params() or {}}
    return value


def _param_from_json(value: Any) -> Any:
    if isinstance(value, dict) and "code" in value:
        return Reason.from_stored(str(value["code"]), value.get("params")) or ""
    return value


def _param_text(value: Any) -> Any:
    if isinstance(value, Reason):
        return value.text()
    return value
