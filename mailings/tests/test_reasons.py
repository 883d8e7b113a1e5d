"""Reasons stored as codes with parameters, put into words in the reader's language (mailings/delivery/reasons.py)."""

import ast
import importlib
from pathlib import Path

import pytest
from django.apps import apps
from django.utils import translation

from mailings.delivery.reasons import TEXTS, Reason, reason, reason_text
from mailings.models import Attempt, Delivery, SmtpAccountState
from mailings.tests.world import make_attempt, make_mailing
from users.models import User

MAILINGS = Path(__file__).resolve().parents[1]
SAMPLES = {
    "error": "[Errno 111] Connection refused",
    "stage": "RCPT",
    "count": 3,
    "n": 2,
    "text": "как было",
    "name": "Shop",
    "why": "spam",
}


def _sample(code: str) -> Reason:
    names = [name for name in SAMPLES if f"%({name})" in TEXTS[code]]
    params = {name: SAMPLES[name] for name in names}
    if "%(what)" in TEXTS[code]:
        params["what"] = reason("reply_timeout")
    if "%(reason)" in TEXTS[code]:
        params["reason"] = reason("temporary", stage="RCPT")
    return Reason(code, params)


@pytest.mark.parametrize("code", sorted(set(TEXTS) - {"legacy"}))
def test_each_code_reads_in_russian_and_in_english(code: str) -> None:
    why = _sample(code)
    with translation.override("ru"):
        russian = why.text()
    with translation.override("en"):
        english = why.text()
    assert russian and english and russian != english
    assert not any("а" <= ch <= "я" for ch in english.lower()), english
    stored = Reason.from_stored(why.code, why.stored_params())
    assert stored is not None
    with translation.override("en"):
        assert stored.text() == english


def test_parameters_that_are_ours_are_translated_and_foreign_text_is_kept() -> None:
    why = reason("retries_exhausted", reason=reason("temporary", stage="RCPT"))
    with translation.override("en"):
        assert why.text() == "retries exhausted: temporary failure (RCPT)"
    cause = reason("sender_refused", stage="MAIL").with_params(reply="550 5.7.1 Отправитель запрещён")
    with translation.override("en"):
        assert cause.text() == "the server rejected the sender (MAIL): 550 5.7.1 Отправитель запрещён"
    with translation.override("ru"):
        assert cause.text() == "сервер отклонил отправителя (MAIL): 550 5.7.1 Отправитель запрещён"


def test_an_unknown_code_is_refused_when_stored_and_shown_as_it_is_when_read() -> None:
    with pytest.raises(ValueError):
        reason("no_such_code")
    assert reason_text("no_such_code", None) == "no_such_code"
    assert reason_text("", None) == ""


def test_foreign_text_parameters_are_bounded() -> None:
    assert len(reason("connection_error", error="x" * 5000).params["error"]) == 200


def test_every_code_the_code_stores_is_known() -> None:
    used: set[str] = set()
    for path in MAILINGS.rglob("*.py"):
        if "migrations" in path.parts or "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "reason"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                used.add(node.args[0].value)
    assert len(used) >= 30
    assert sorted(used - set(TEXTS)) == []


# --- the 0007 migration: sentences stored by earlier releases become codes ----------------------------------------

migration = importlib.import_module("mailings.migrations.0007_reasons_to_codes")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("рассылка отключена", {"code": "mailing_disabled", "params": {}}),
        (
            "повторы исчерпаны: временный отказ (RCPT)",
            {
                "code": "retries_exhausted",
                "params": {"reason": {"code": "temporary", "params": {"stage": "RCPT"}}},
            },
        ),
        (
            "нет ответа сервера (тайм-аут) после завершающей точки: сервер мог принять письмо",
            {"code": "lost_after_dot", "params": {"what": {"code": "reply_timeout", "params": {}}}},
        ),
        (
            "сервер отклонил отправителя (MAIL): 550 5.7.1 Sender: rejected",
            {"code": "sender_refused", "params": {"stage": "MAIL", "reply": "550 5.7.1 Sender: rejected"}},
        ),
        (
            "соединение отклонено: [Errno 111] Connection refused",
            {"code": "connection_refused", "params": {"error": "[Errno 111] Connection refused"}},
        ),
        (
            "пропущено: сервис был недоступен (и ещё 265 более ранних запусков)",
            {"code": "missed_slots", "params": {"count": 265}},
        ),
        ("Адрес отклонён сервером", {"code": "legacy", "params": {"text": "Адрес отклонён сервером"}}),
    ],
)
def test_the_migration_reads_each_kind_of_stored_sentence(text: str, expected: dict[str, object]) -> None:
    assert migration._parse(text) == expected


@pytest.mark.django_db
def test_the_migration_converts_stored_rows_and_builds_the_summary(owner: User) -> None:
    attempt = make_attempt(make_mailing(owner), status=Attempt.Status.FAILURE)
    Delivery.objects.create(attempt=attempt, email="a@example.com", state="skipped", reason="рассылка отключена")
    Delivery.objects.create(attempt=attempt, email="b@example.com", state="sent", smtp_reply="250 2.0.0 Ok")
    Attempt.objects.filter(pk=attempt.pk).update(note="запуск с опозданием: сервис был недоступен", summary=None)
    SmtpAccountState.objects.create(account="x:25", breaker_reason="ошибка TLS: handshake failure")

    migration.forwards(apps, None)

    skipped = Delivery.objects.get(email="a@example.com")
    assert (skipped.reason, skipped.reason_params) == ("mailing_disabled", None)
    attempt.refresh_from_db()
    assert attempt.note == "late_run"
    state = SmtpAccountState.objects.get()
    assert (state.breaker_reason, state.breaker_reason_params) == ("tls_error", {"error": "handshake failure"})
    with translation.override("en"):
        assert skipped.reason_text == "mailing disabled"
        assert attempt.note_text == "late run: the service was unavailable"
    assert attempt.summary is not None
    assert {"reply": "250 2.0.0 Ok", "n": 1} in attempt.summary
    assert {"state": "skipped", "reason": "mailing_disabled", "params": None, "n": 1} in attempt.summary
