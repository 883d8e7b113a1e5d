"""Message content: placeholders, Markdown → sanitised HTML and text, and the form's errors (issue 17)."""

import pytest
from django.test import Client
from django.urls import reverse

from mailings.content.placeholders import PlaceholderError, parse
from mailings.content.render import render_body
from mailings.models import Message
from users.models import User

VALUES = {"name": "Иван", "email": "ivan@example.com", "comment": "VIP", "unsubscribe_url": ""}


def test_placeholders_render_the_documented_names_in_both_languages() -> None:
    template = parse("{{ имя }}/{{name}}/{{ email }}/{{ почта }}/{{ комментарий }}/{{ comment }}")

    assert template.render(VALUES) == "Иван/Иван/ivan@example.com/ivan@example.com/VIP/VIP"


def test_the_default_filter_fills_an_empty_value() -> None:
    template = parse('Здравствуйте, {{ имя|default:"клиент" }}!')

    assert template.render({**VALUES, "name": ""}) == "Здравствуйте, клиент!"
    assert template.render(VALUES) == "Здравствуйте, Иван!"


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("Привет,\n  {{ фамилия }}", (2, 3), "неизвестное имя «фамилия»"),
        ("abc {{ имя ", (1, 5), "без закрывающих"),
        ("abc }} def", (1, 5), "без открывающих"),
        ("{{ имя.__class__ }}", (1, 1), "неизвестное имя"),
        ("{{ имя|upper }}", (1, 1), "неизвестный фильтр «upper»"),
        ("{{ имя|default:клиент }}", (1, 1), "непонятная подстановка"),
        ("{{ }}", (1, 1), "непонятная подстановка"),
    ],
)
def test_broken_syntax_says_where(text: str, where: tuple[int, int], words: str) -> None:
    with pytest.raises(PlaceholderError) as caught:
        parse(text)

    assert (caught.value.line, caught.value.column) == where
    assert words in caught.value.message


def test_markdown_becomes_sanitised_html_with_a_derived_text_part() -> None:
    body = (
        "# Новости, {{ имя }}\n\nТекст **важный** и [сайт](https://example.com).\n\n"
        "<script>alert(1)</script><form action='https://evil.example'><input></form>\n\n"
        "[клик](javascript:alert(1)) ![лого](https://example.com/logo.png) ![локальная](/logo.png)\n\n- раз\n- два"
    )
    rendered = render_body(body=body, format="markdown", strict=True)
    assert rendered.html is not None
    html = rendered.html.render({**VALUES, "name": "&lt;b&gt;Иван"})
    text = rendered.text.render(VALUES)

    assert "<strong>важный</strong>" in html and 'href="https://example.com"' in html
    assert "<script" not in html and "<form" not in html and "<input" not in html
    assert 'href="javascript' not in html
    assert 'src="https://example.com/logo.png"' in html and 'src="/logo.png"' not in html
    assert '<meta name="viewport"' in html and "max-width:600px" in html
    assert "Новости, Иван" in text and "сайт (https://example.com)" in text and "- раз\n- два" in text
    assert any("/logo.png" in w for w in rendered.warnings)


def test_a_placeholder_may_not_become_a_link_address_except_the_unsubscribe_link() -> None:
    with pytest.raises(PlaceholderError) as caught:
        render_body(body="Текст\n\n[сюда]({{ комментарий }})", format="markdown", strict=True)
    assert (caught.value.line, caught.value.column) == (3, 8)

    rendered = render_body(body="[Отписаться]({{ unsubscribe_url }})", format="markdown", strict=True)
    assert rendered.html is not None and rendered.html.fields == {"unsubscribe_url"}


def test_a_plain_message_stays_one_text_part_and_old_braces_stay_literal() -> None:
    rendered = render_body(body="Цена {{ не шаблон", format="plain")

    assert rendered.html is None
    assert rendered.text.render(VALUES) == "Цена {{ не шаблон"


@pytest.mark.django_db
def test_the_form_saves_a_markdown_message(client: Client, owner: User) -> None:
    client.force_login(owner)
    data = {
        "subject": "Привет, {{ имя }}",
        "format": "markdown",
        "body": '**Здравствуйте**, {{ имя|default:"клиент" }}',
    }

    response = client.post(reverse("mailings:message_create"), data)

    assert response.status_code == 302
    message = Message.objects.get()
    assert (message.format, message.subject) == ("markdown", "Привет, {{ имя }}")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ru", "Строка 2, символ 1: неизвестное имя «фамилия»"),
        ("en", "Line 2, character 1: unknown name «фамилия»"),
    ],
)
def test_the_form_says_where_a_placeholder_is_wrong_in_both_languages(
    client: Client, owner: User, language: str, expected: str
) -> None:
    client.force_login(owner)
    client.cookies["django_language"] = language
    data = {"subject": "Тема", "format": "markdown", "body": "Привет\n{{ фамилия }}"}

    response = client.post(reverse("mailings:message_create"), data)

    assert response.status_code == 200
    assert expected in response.content.decode()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_the_form_checks_the_subject_too(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.post(reverse("mailings:message_create"), {"subject": "Тема {{ имя", "body": "x"})

    assert response.status_code == 200
    assert "Строка 1, символ 6" in response.content.decode()


@pytest.mark.parametrize(
    "body",
    [
        "Здравствуйте, {{ имя }}!\nНовости.\n",
        "Строка с пробелом в конце \nи длинная строка "
        + "очень " * 40
        + "\n\n-- \nОтписаться: {{ unsubscribe_url }}\n",
        "Без подстановок.\r\nВторая строка\r\n",
        "{{ email }} в самом начале",
        "Перевод\rстроки\r\n{{ имя }}\r{{ comment }}\n",
        "**Жирный** текст, [ссылка]({{ unsubscribe_url }}), = и =3D\n\n" + "абзац " * 50,
    ],
)
@pytest.mark.parametrize("body_format", ["plain", "markdown"])
def test_the_body_encoded_in_two_pieces_equals_the_body_encoded_whole(body: str, body_format: str) -> None:
    from mailings.delivery.compose import MessageComposer, mime_body

    composer = MessageComposer(
        from_email="a@example.com", subject="Тема", body=body, msgid_domain="example.com", body_format=body_format
    )
    values = composer.values(
        email="ivan@example.com", full_name="Иван <b>", comment="VIP ", unsubscribe_url="https://x.example/u/T/"
    )
    _subject, text, html_part = composer.render(values)
    assert composer._body(values) == mime_body(text=text, html=html_part, boundary=composer._boundary)
