"""Texts the engine stores in Russian (reasons, notes, breaker causes, reply summaries), shown in the reader's language.

The engine writes a delivery's reason once, in the service's language, and a page shows it in the
reader's. A fixed text is a catalog entry (plain gettext). A text with parameters, such as
«временный отказ (RCPT)», is matched against the template it was made from, and the template is
translated with its parameters translated in turn; what is not ours (a server's reply, an operating
system's error) stays as it is.
"""

import re
from functools import cache

from django.utils.translation import get_language, gettext, gettext_noop

# Every stored text with parameters (a test checks the engine's modules against this list).
TEMPLATES = (
    gettext_noop("соединение отклонено: %(error)s"),
    gettext_noop("ошибка TLS: %(error)s"),
    gettext_noop("ошибка соединения: %(error)s"),
    gettext_noop("ошибка входа: %(error)s"),
    gettext_noop("повторы исчерпаны: %(reason)s"),
    gettext_noop("письмо не собрано (build): %(error)s"),
    gettext_noop("письмо не собрать: %(error)s"),
    gettext_noop("заголовок не собрать: %(error)s"),
    gettext_noop("%(what)s после завершающей точки: сервер мог принять письмо"),
    gettext_noop("%(what)s до завершающей точки"),
    gettext_noop("сервер отклонил отправителя (%(stage)s)"),
    gettext_noop("сервер временно отклонил отправителя (%(stage)s)"),
    gettext_noop("сервер закрыл соединение (%(stage)s)"),
    gettext_noop("временный отказ (%(stage)s)"),
    gettext_noop("постоянный отказ (%(stage)s)"),
    gettext_noop("непонятный ответ сервера (%(stage)s)"),
    gettext_noop("пропущено: сервис был недоступен (и ещё %(count)d более ранних запусков)"),
    gettext_noop("ещё вариантов: %(n)s"),
)

_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
_COUNT_SUFFIX = re.compile(r"^(?P<text>.*?)(?P<count> ×\d+)$", re.S)
_MAX_DEPTH = 4


@cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    compiled = []
    for template in TEMPLATES:
        parts = _PLACEHOLDER.split(template)  # literal, name, literal, name, ..., literal
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
        compiled.append((template, re.compile(rf"\A{regex}\Z", re.S)))
    return tuple(compiled)


def _fill(template: str, values: dict[str, str]) -> str:
    """The template with its placeholders replaced by the values as text (%(count)d included)."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _russian() -> bool:
    return (get_language() or "ru").split("-")[0] == "ru"


def _translate(text: str, depth: int) -> str:
    translated = gettext(text)
    if translated != text or depth >= _MAX_DEPTH:
        return translated
    for template, pattern in _patterns():
        match = pattern.match(text)
        if match:
            values = {name: _translate(value, depth + 1) for name, value in match.groupdict().items()}
            return _fill(gettext(template), values)
    # «причина: ответ сервера» (a breaker cause, a summary's "state: reason"): translate what is ours.
    head, sep, tail = text.partition(": ")
    if sep:
        translated_head = _translate(head, depth + 1)
        if translated_head != head:
            return f"{translated_head}: {_translate(tail, depth + 1)}"
    return text


def stored_text(text: str) -> str:
    """One stored text (a reason, a note, a breaker cause) in the active language."""
    if not text or _russian():
        return text
    return _translate(text, 0)


def stored_summary(summary: str) -> str:
    """An attempt's reply summary (`250 2.0.0 Ok ×98; Неизвестно: … ×2`) in the active language."""
    if not summary or _russian():
        return summary
    parts = []
    for part in summary.split("; "):
        match = _COUNT_SUFFIX.match(part)
        text, count = (match["text"], match["count"]) if match else (part, "")
        parts.append(_translate(text, 0) + count)
    return "; ".join(parts)
