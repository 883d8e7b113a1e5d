"""The engine's stored texts (written in Russian) are shown in the reader's language, parameters included."""

import ast
import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from mailings.models import Attempt, Delivery
from mailings.stored_text import TEMPLATES, stored_summary, stored_text
from mailings.tests.world import make_attempt, make_mailing, make_message, make_recipient
from users.models import User

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
SERVICES = Path(__file__).resolve().parents[1] / "delivery"
# Sample parameters as the engine fills them: some are engine texts themselves, some are not ours.
SAMPLES = {
    "error": "[Errno 111] Connection refused",
    "reason": "временный отказ (RCPT)",
    "what": "соединение разорвано",
    "stage": "DATA",
    "count": "3",
    "n": "4",
}


def _fill(template: str) -> str:
    return re.sub(r"%\((\w+)\)[sd]", lambda m: SAMPLES[m.group(1)], template)


def _parameterized_msgids(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"_", "gettext", "gettext_lazy", "gettext_noop"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and "%(" in node.args[0].value
        ):
            found.add(node.args[0].value)
    return found


def test_every_text_with_parameters_the_engine_stores_is_known() -> None:
    stored = set().union(*(_parameterized_msgids(path) for path in sorted(SERVICES.glob("*.py"))))
    assert len(stored) >= 15
    assert sorted(stored - set(TEMPLATES)) == [], "add these to mailings/stored_text.py TEMPLATES"


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_text_with_parameters_comes_out_in_english_and_unchanged_in_russian(template: str) -> None:
    text = _fill(template)
    with translation.override("en"):
        english = stored_text(text)
        assert CYRILLIC.search(english) is None, english
        # The parameters that are not ours are kept as they were.
        for name in ("error", "stage", "count", "n"):
            if f"%({name})" in template:
                assert SAMPLES[name] in english
    with translation.override("ru"):
        assert stored_text(text) == text


def test_a_parameter_that_is_an_engine_text_is_translated_in_turn() -> None:
    with translation.override("en"):
        expected = translation.gettext("повторы исчерпаны: %(reason)s") % {
            "reason": translation.gettext("временный отказ (%(stage)s)") % {"stage": "RCPT"}
        }
        assert stored_text("повторы исчерпаны: временный отказ (RCPT)") == expected
        assert expected == "retries exhausted: temporary failure (RCPT)"


def test_a_servers_words_are_never_translated_but_our_words_around_them_are() -> None:
    with translation.override("en"):
        # A Russian mail server's reply stays as the server said it.
        assert stored_text("550 5.1.1 Пользователь не найден") == "550 5.1.1 Пользователь не найден"
        cause = stored_text("сервер отклонил отправителя (MAIL): 550 5.7.1 Отправитель запрещён")
        assert cause.startswith(translation.gettext("сервер отклонил отправителя (%(stage)s)") % {"stage": "MAIL"})
        assert cause.endswith(": 550 5.7.1 Отправитель запрещён")
        assert stored_text("рассылка отключена") == translation.gettext("рассылка отключена") != "рассылка отключена"
        assert stored_text("") == ""


def test_a_reply_summary_translates_our_parts_and_keeps_the_counts() -> None:
    summary = (
        "250 2.0.0 Ok ×98; Неизвестно: соединение разорвано после завершающей точки: сервер мог принять письмо ×2; "
        "Пропущено: рассылка отключена ×5; ещё вариантов: 3"
    )
    with translation.override("en"):
        english = stored_summary(summary)
    assert CYRILLIC.search(english) is None, english
    assert english.startswith("250 2.0.0 Ok ×98; Unknown: ")
    with translation.override("en"):
        more = translation.gettext("ещё вариантов: %(n)s") % {"n": 3}
        disabled = translation.gettext("рассылка отключена")
    assert english.endswith(f"; Skipped: {disabled} ×5; {more}")
    parts = english.split("; ")
    assert len(parts) == 4 and parts[1].endswith(" ×2")
    with translation.override("ru"):
        assert stored_summary(summary) == summary


def test_the_attempt_pages_show_the_stored_texts_in_english(client: Client, owner: User) -> None:
    recipient = make_recipient(owner, "jane@example.com", full_name="Jane Doe")
    mailing = make_mailing(owner, message=make_message(owner, "Weekly news", body="Hello!"), recipients=[recipient])
    attempt = make_attempt(
        mailing,
        states=[Delivery.State.FAILED, Delivery.State.UNKNOWN],
        status=Attempt.Status.FAILURE,
        server_response="Не доставлено: повторы исчерпаны: временный отказ (RCPT) ×1; Неизвестно ×1",
        note="пропущено: сервис был недоступен (и ещё 3 более ранних запусков)",
        failed_count=1,
        unknown_count=1,
    )
    first, second = Delivery.objects.filter(attempt=attempt).order_by("pk")
    Delivery.objects.filter(pk=first.pk).update(reason="повторы исчерпаны: временный отказ (RCPT)")
    Delivery.objects.filter(pk=second.pk).update(
        reason="нет ответа сервера (тайм-аут) после завершающей точки: сервер мог принять письмо"
    )
    client.force_login(owner)
    client.cookies["django_language"] = "en"

    for url in (reverse("mailings:attempt_detail", args=[attempt.pk]), reverse("mailings:attempt_list")):
        html = client.get(url).content.decode()
        assert 'lang="en"' in html
        assert CYRILLIC.findall(html.replace("Русский", "")) == [], url
        assert "retries exhausted: temporary failure (RCPT)" in html, url
    detail = client.get(reverse("mailings:attempt_detail", args=[attempt.pk])).content.decode()
    assert "after the final dot" in detail

    client.cookies["django_language"] = "ru"
    assert (
        "повторы исчерпаны: временный отказ (RCPT)"
        in client.get(reverse("mailings:attempt_detail", args=[attempt.pk])).content.decode()
    )
