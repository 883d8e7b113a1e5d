"""Russian is the source language, but its plurals have three forms: locale/ru gives them (1, 2, 5 рассылок)."""

import pytest
from django.template import Context, Template
from django.utils import translation

COUNTED = Template(
    "{% load i18n %}{% for n in numbers %}{% blocktranslate count counter=n %}{{ counter }} рассылка{% plural %}"
    "{{ counter }} рассылок{% endblocktranslate %};{% endfor %}"
)
QUEUED = Template(
    "{% load i18n %}{% blocktranslate count counter=n %}Идёт отправка: в очереди {{ counter }} письмо.{% plural %}"
    "Идёт отправка: в очереди {{ counter }} писем.{% endblocktranslate %}"
)


def test_counted_mailings_take_the_russian_form() -> None:
    with translation.override("ru"):
        rendered = COUNTED.render(Context({"numbers": [1, 2, 5, 11, 21, 22, 25]}))
    assert rendered.split(";")[:-1] == [
        "1 рассылка",
        "2 рассылки",
        "5 рассылок",
        "11 рассылок",
        "21 рассылка",
        "22 рассылки",
        "25 рассылок",
    ]


@pytest.mark.parametrize(("n", "expected"), [(1, "1 письмо"), (3, "3 письма"), (12, "12 писем")])
def test_the_sending_queue_is_counted_in_russian(n: int, expected: str) -> None:
    with translation.override("ru"):
        assert f"в очереди {expected}." in QUEUED.render(Context({"n": n}))


def test_english_keeps_its_two_forms() -> None:
    with translation.override("en"):
        assert COUNTED.render(Context({"numbers": [1, 2]})) == "1 mailing;2 mailings;"
