"""Reasons, notes and breaker causes stored as Russian sentences become codes with parameters.

Before 0006 the engine stored its reasons as sentences in Russian. This migration matches each stored
sentence against the wordings the engine used (frozen here, as they were) and stores the code and its
parameters instead; a sentence that matches nothing is kept whole under the code `legacy`, shown as it
was. It then builds the reply summary (`Attempt.summary`) of every finished attempt from its deliveries,
so old runs are shown in the reader's language too. The server's own replies are not touched.
"""

import json
import re
from collections import Counter

from django.db import migrations
from django.db.models import Count

# The wordings of the codes as the engine stored them (mailings/delivery/reasons.py at 0006).
_WORDINGS = {
    "attempt_deleted": "попытка удалена",
    "mailing_disabled": "рассылка отключена",
    "owner_blocked": "владелец заблокирован",
    "window_closed": "время рассылки истекло",
    "handover_not_recorded": "не удалось записать передачу письма",
    "not_built": "письмо не собрано (build): %(error)s",
    "connection_failures": "несколько разрывов соединения подряд",
    "retries_exhausted": "повторы исчерпаны: %(reason)s",
    "worker_lost_after_handover": "обработчик остановлен после передачи письма серверу: возможна доставка",
    "bad_address": "некорректный адрес",
    "bad_domain": "некорректный домен адреса",
    "non_ascii_address": "адрес с не-ASCII символами не поддерживается",
    "message_unbuildable": "письмо не собрать: %(error)s",
    "header_unbuildable": "заголовок не собрать: %(error)s",
    "connect_timeout": "сервер не ответил вовремя при соединении",
    "connection_refused": "соединение отклонено: %(error)s",
    "tls_error": "ошибка TLS: %(error)s",
    "refused_at_connect": "сервер отказал при соединении",
    "no_greeting": "нет приветствия сервера (тайм-аут)",
    "lost_before_greeting": "соединение разорвано до приветствия",
    "connection_timeout": "тайм-аут соединения",
    "connection_error": "ошибка соединения: %(error)s",
    "auth_failed": "ошибка авторизации на сервере",
    "lost_at_login": "соединение разорвано при входе",
    "refused_at_login": "сервер отказал при входе",
    "login_error": "ошибка входа: %(error)s",
    "message_deadline": "превышено время на сообщение",
    "reply_timeout": "нет ответа сервера (тайм-аут)",
    "connection_lost": "соединение разорвано",
    "lost_after_dot": "%(what)s после завершающей точки: сервер мог принять письмо",
    "lost_before_dot": "%(what)s до завершающей точки",
    "sender_refused": "сервер отклонил отправителя (%(stage)s)",
    "sender_deferred": "сервер временно отклонил отправителя (%(stage)s)",
    "server_closed": "сервер закрыл соединение (%(stage)s)",
    "temporary": "временный отказ (%(stage)s)",
    "permanent": "постоянный отказ (%(stage)s)",
    "malformed": "непонятный ответ сервера (%(stage)s)",
    "reply_too_long": "ответ сервера длиннее 8 КБ (ответ придуман клиентом, не сервером)",
    "lease_lost": "задание потеряло право на доставку",
    "dot_reply_too_long": "ответ на завершающую точку длиннее 8 КБ: сервер мог принять письмо",
    "error_after_dot": "ошибка после завершающей точки",
    "temporary_after_dot": "временный отказ после завершающей точки",
    "malformed_dot_reply": "непонятный ответ на завершающую точку: сервер мог принять письмо",
    "missed_slot": "пропущено: сервис был недоступен",
    "missed_slots": "пропущено: сервис был недоступен (и ещё %(count)d более ранних запусков)",
    "late_run": "запуск с опозданием: сервис был недоступен",
}
# Parameters that held one of our own sentences (translated in turn); the others held foreign text.
_NESTED = {"what", "reason", "error"}
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
_PATTERNS = []
for _code, _wording in _WORDINGS.items():
    _parts = _PLACEHOLDER.split(_wording)
    _regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(_parts))
    _PATTERNS.append((_code, _wording, re.compile(rf"\A{_regex}\Z", re.S)))


def _param(name, value, depth):
    if name == "count" and value.isdigit():
        return int(value)
    if name in _NESTED:
        nested = _parse(value, depth + 1, with_reply=False)
        if nested is not None and nested["code"] != "legacy":
            return nested
    return value


def _parse(text, depth=0, *, with_reply=True):
    """{"code": ..., "params": {...}} for one stored sentence; None for an empty one."""
    text = (text or "").strip()
    if not text:
        return None
    if depth < 4:
        for code, _wording, pattern in _PATTERNS:
            match = pattern.match(text)
            if match:
                params = {name: _param(name, value, depth) for name, value in match.groupdict().items()}
                return {"code": code, "params": params}
        if with_reply:
            # A breaker cause: "what we concluded: what the server said".
            head, sep, tail = text.rpartition(": ")
            while sep:
                found = _parse(head, depth + 1, with_reply=False)
                if found is not None and found["code"] != "legacy":
                    found["params"]["reply"] = text[len(head) + 2 :]
                    return found
                head, sep, _tail = head.rpartition(": ")
    return {"code": "legacy", "params": {"text": text}}


def _store(found):
    if found is None:
        return "", None
    return found["code"], found["params"] or None


def _convert(model, field, params_field):
    for value in model.objects.exclude(**{field: ""}).values_list(field, flat=True).distinct().iterator():
        if value in _WORDINGS:
            continue  # already a code (a new row)
        code, params = _store(_parse(value))
        model.objects.filter(**{field: value}).update(**{field: code, params_field: params})


_QUEUE_ID = re.compile(r"(?i)(:?\s*queued(\s+as\s+\S+)?|\s+id=\S+|\s+<[^>]*>|\s*\(\S*\)$)")


def _summaries(Attempt, Delivery):
    finished = Attempt.objects.exclude(status="in_progress").filter(summary__isnull=True)
    for attempt_id in finished.values_list("pk", flat=True).iterator():
        counter = Counter()
        rows = (
            Delivery.objects.filter(attempt_id=attempt_id)
            .values_list("smtp_reply", "reason", "reason_params", "state")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for reply, code, params, state, n in rows:
            if reply:
                entry = {"reply": _QUEUE_ID.sub("", reply).strip()[:120] or reply[:120]}
            else:
                entry = {"state": state, "reason": code, "params": params}
            counter[json.dumps(entry, sort_keys=True)] += n
        if not counter:
            continue
        entries = [{**json.loads(key), "n": n} for key, n in counter.most_common(8)]
        if len(counter) > 8:
            entries.append({"more": len(counter) - 8})
        Attempt.objects.filter(pk=attempt_id).update(summary=entries)


def forwards(apps, schema_editor):
    Attempt = apps.get_model("mailings", "Attempt")
    Delivery = apps.get_model("mailings", "Delivery")
    SmtpAccountState = apps.get_model("mailings", "SmtpAccountState")
    _convert(Delivery, "reason", "reason_params")
    _convert(Attempt, "note", "note_params")
    _convert(SmtpAccountState, "breaker_reason", "breaker_reason_params")
    _summaries(Attempt, Delivery)


def backwards(apps, schema_editor):
    # The codes stay: a page of the earlier release shows them as they are, nothing is lost.
    pass


class Migration(migrations.Migration):
    dependencies = [("mailings", "0006_reasons_as_codes")]

    operations = [migrations.RunPython(forwards, backwards)]
