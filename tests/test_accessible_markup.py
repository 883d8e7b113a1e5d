"""The markup that assistive technology relies on, checked on the rendered pages (axe-core checks the rest in a browser:
tests/e2e/test_accessibility.py).

A field's error and help text carry the ids its aria-describedby names; the skip link leads to the main content;
the language switcher applies only with its button; the 403 page is the site's own, in both languages; the four
counts of an attempt are told in words, not only by colour.
"""

import re

import pytest
from django.test import Client
from django.urls import reverse

from mailings.models import Attempt
from mailings.tests.world import make_attempt, make_mailing
from users.models import User

pytestmark = pytest.mark.django_db


def _ids(html: str) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', html))


def _field(html: str, element_id: str) -> str:
    tag = re.search(rf'<(?:input|select|textarea)[^>]*\sid="{element_id}"[^>]*>', html)
    assert tag, f"no field #{element_id}"
    return tag.group(0)


def _described_by(html: str, element_id: str) -> list[str]:
    found = re.search(r'aria-describedby="([^"]+)"', _field(html, element_id))
    return found.group(1).split() if found else []


def test_each_error_and_help_text_has_the_id_its_field_points_at(client: Client, owner: User) -> None:
    client.force_login(owner)
    html = client.post(
        reverse("mailings:recipient_create"), {"email": "not-an-address", "full_name": ""}
    ).content.decode()
    ids = _ids(html)
    for field in ("id_email", "id_full_name"):
        described = _described_by(html, field)
        assert f"{field}_error" in described, described
        assert set(described) <= ids, f"{field} points at missing ids: {set(described) - ids}"
    assert 'aria-invalid="true"' in _field(html, "id_email")


def test_help_texts_of_the_registration_form_are_tied_to_their_fields(client: Client) -> None:
    html = client.get(reverse("users:register")).content.decode()
    described = _described_by(html, "id_password1")
    assert described == ["id_password1_helptext"]
    assert "id_password1_helptext" in _ids(html)


def test_required_fields_are_explained_in_words(client: Client, owner: User) -> None:
    client.force_login(owner)
    html = client.get(reverse("mailings:recipient_create")).content.decode()
    assert html.count("Поля со звёздочкой (*) обязательны.") == 1
    assert "{#" not in html and "#}" not in html
    assert " required" in _field(html, "id_email")


def test_a_form_error_of_the_whole_form_is_a_focusable_summary(client: Client, owner: User, password: str) -> None:
    html = client.post(reverse("users:login"), {"username": owner.email, "password": "wrong"}).content.decode()
    assert re.search(r'<div class="alert alert-danger form-error-summary" role="alert" tabindex="-1">', html)


def test_every_page_starts_with_a_skip_link_to_the_main_content(client: Client) -> None:
    html = client.get(reverse("users:login")).content.decode()
    body = html.split("<body", 1)[1]
    first_link = re.search(r"<a [^>]*>", body)
    assert first_link and 'href="#main"' in first_link.group(0)
    assert re.search(r'<main[^>]*\sid="main"', html)


def test_the_language_switcher_changes_nothing_until_its_button_is_pressed(client: Client) -> None:
    html = client.get(reverse("users:login")).content.decode()
    form = re.search(r'<form action="/i18n/setlang/".*?</form>', html, re.S)
    assert form
    assert "onchange" not in form.group(0)
    assert re.search(r'<button type="submit"[^>]*>Применить</button>', form.group(0))


@pytest.mark.parametrize(("language", "title"), [("ru", "Доступ запрещён"), ("en", "Access denied")])
def test_a_forbidden_page_is_the_sites_own_in_the_readers_language(
    client: Client, owner: User, language: str, title: str
) -> None:
    client.force_login(owner)
    client.cookies["django_language"] = language
    response = client.get(reverse("blog:manage"))
    html = response.content.decode()
    assert response.status_code == 403
    assert f'<h1 class="h3">{title}</h1>' in html
    assert 'id="main"' in html and f'<html lang="{language}">' in html
    assert "403 Forbidden" not in html


def test_the_counts_of_an_attempt_are_told_in_words_not_only_by_colour(client: Client, owner: User) -> None:
    mailing = make_mailing(owner)
    states = ("sent", "failed", "unknown", "skipped")
    make_attempt(
        mailing,
        states=states,
        status=Attempt.Status.FAILURE,
        sent_count=1,
        failed_count=1,
        unknown_count=1,
        skipped_count=1,
    )
    client.force_login(owner)
    html = client.get(reverse("mailings:attempt_list")).content.decode()
    for word in ("принято сервером", "возвратов", "не доставлено", "неизвестно", "пропущено"):
        # Each count with its word, visible on every screen (issue 20) and so read out too.
        assert f"</span> {word}</span>" in html
    # The yellow of Bootstrap's text-warning is 1.6:1 on white.
    assert 'text-warning"' not in html
