"""English is complete: the pages switch over with no Russian left, and the committed catalog has no gaps.

The interface strings are written in Russian (the default language); locale/en holds their English.
After changing strings: `make messages`, translate what is new, commit the .po and the .mo.
"""

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from mailings.models import Attempt, Delivery
from mailings.tests.world import make_attempt, make_mailing, make_message, make_recipient
from users.models import User

CATALOG = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOG.with_suffix(".mo")
CYRILLIC = re.compile(r"[А-Яа-яЁё][А-Яа-яЁё\w.,:;!?«»—()\- ]*")
# The language switcher names each language in that language.
NATIVE_NAMES = [name for code, name in settings.LANGUAGES]
PLACEHOLDER = re.compile(r"%\(\w+\)[sdf]|%[sdf]|\{\w*\}|</?[a-z]+[^>]*>")

ANONYMOUS_PAGES = ["home", "users:login", "users:register"]
SIGNED_IN_PAGES = [
    "home",
    "mailings:mailing_list",
    "mailings:recipient_list",
    "mailings:message_list",
    "mailings:stats",
    "mailings:attempt_list",
]


def _russian_left(html: str) -> list[str]:
    for name in NATIVE_NAMES:
        html = html.replace(name, "")
    return CYRILLIC.findall(html)


def _fill(owner: User) -> Attempt:
    """The owner's data in plain ASCII, so any Cyrillic on the page can only come from the interface."""
    recipient = make_recipient(owner, "jane@example.com", full_name="Jane Doe", comment="VIP")
    mailing = make_mailing(owner, message=make_message(owner, "Weekly news", body="Hello!"), recipients=[recipient])
    return make_attempt(
        mailing,
        states=[Delivery.State.SENT, Delivery.State.FAILED, Delivery.State.UNKNOWN],
        status=Attempt.Status.FAILURE,
        server_response="250 2.0.0 Ok",
        sent_count=1,
        failed_count=1,
    )


@pytest.mark.parametrize("name", ANONYMOUS_PAGES)
def test_anonymous_pages_are_in_english(client: Client, db: None, name: str) -> None:
    client.cookies["django_language"] = "en"
    html = client.get(reverse(name)).content.decode()
    assert 'lang="en"' in html
    assert "Log in" in html and "Sign up" in html
    assert "Вход" not in html and "Регистрация" not in html
    assert _russian_left(html) == []


@pytest.mark.parametrize("name", ANONYMOUS_PAGES)
def test_anonymous_pages_are_in_russian_by_default(client: Client, db: None, name: str) -> None:
    html = client.get(reverse(name)).content.decode()
    assert 'lang="ru"' in html
    assert "Вход" in html and "Регистрация" in html
    assert "Log in" not in html


@pytest.mark.parametrize("filled", [False, True], ids=["empty", "filled"])
@pytest.mark.parametrize("name", SIGNED_IN_PAGES)
def test_signed_in_pages_are_in_english(client: Client, owner: User, name: str, filled: bool) -> None:
    if filled:
        _fill(owner)
    client.force_login(owner)
    client.cookies["django_language"] = "en"
    html = client.get(reverse(name)).content.decode()
    assert 'lang="en"' in html
    assert "Mailings" in html and "Recipients" in html and "Log out" in html
    assert "Рассылки" not in html and "Получатели" not in html and "Выход" not in html
    assert _russian_left(html) == []


def test_detail_pages_are_in_english(client: Client, owner: User) -> None:
    attempt = _fill(owner)
    client.force_login(owner)
    client.cookies["django_language"] = "en"
    for url in (
        reverse("mailings:mailing_detail", args=[attempt.mailing_id]),
        reverse("mailings:attempt_detail", args=[attempt.pk]),
        reverse("mailings:recipient_detail", args=[attempt.mailing.recipients.get().pk]),
        reverse("mailings:message_detail", args=[attempt.mailing.message_id]),
    ):
        html = client.get(url).content.decode()
        assert 'lang="en"' in html, url
        assert _russian_left(html) == [], url


def test_the_statuses_are_in_english(client: Client, owner: User) -> None:
    _fill(owner)
    client.force_login(owner)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("mailings:attempt_list")).content.decode()
    assert "Failed" in html and "Manual" in html
    html = client.get(reverse("mailings:stats")).content.decode()
    assert "Statistics" in html and "Total attempts" in html


@pytest.mark.parametrize("name", ["users:user_list", "users:audit_log"])
def test_manager_pages_are_in_english(client: Client, manager: User, owner: User, name: str) -> None:
    _fill(owner)
    client.force_login(manager)
    client.cookies["django_language"] = "en"
    html = client.get(reverse(name)).content.decode()
    assert "Management" in html and "Users" in html and "Action log" in html
    assert "Управление" not in html
    assert _russian_left(html) == []


@pytest.mark.parametrize("name", SIGNED_IN_PAGES)
def test_signed_in_pages_are_in_russian_by_default(client: Client, owner: User, name: str) -> None:
    _fill(owner)
    client.force_login(owner)
    html = client.get(reverse(name)).content.decode()
    assert 'lang="ru"' in html
    assert "Рассылки" in html and "Выход" in html
    assert "Log out" not in html


def test_the_switcher_changes_the_language_of_a_cached_page(client: Client, owner: User) -> None:
    """The header's form posts to set_language; the same signed-in page (cached per user) comes back in English."""
    client.force_login(owner)
    url = reverse("mailings:mailing_list")
    assert "Выход" in client.get(url).content.decode()
    assert "Выход" in client.get(url).content.decode()  # now served from the page cache
    response = client.post(reverse("set_language"), {"language": "en", "next": url})
    assert response.status_code == 302 and response["Location"] == url
    html = client.get(url).content.decode()
    assert "Log out" in html and "Выход" not in html
    client.post(reverse("set_language"), {"language": "ru", "next": url})
    assert "Выход" in client.get(url).content.decode()


@dataclass
class Entry:
    line: int
    msgid: str = ""
    msgid_plural: str = ""
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)


def _catalog() -> list[Entry]:
    """The .po's entries (not the header, not obsolete ones), parsed with the standard library only."""
    entries: list[Entry] = []
    text = CATALOG.read_text(encoding="utf-8")
    number = 1
    for block in text.split("\n\n"):
        entry, target = Entry(line=number), ""
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):  # comments, references, previous and obsolete (#~) entries
                continue
            else:
                if not line.startswith('"'):
                    target, _, line = line.partition(" ")
                value = ast.literal_eval(line)
                if target == "msgid":
                    entry.msgid += value
                elif target == "msgid_plural":
                    entry.msgid_plural += value
                else:
                    index = int(target[7:-1]) if target.startswith("msgstr[") else 0
                    entry.msgstr[index] = entry.msgstr.get(index, "") + value
        if entry.msgid:
            entries.append(entry)
        number += block.count("\n") + 2
    return entries


def test_every_string_of_the_catalog_is_translated() -> None:
    entries = _catalog()
    assert len(entries) > 300
    untranslated = [
        e.msgid for e in entries if len(e.msgstr) < (2 if e.msgid_plural else 1) or not all(e.msgstr.values())
    ]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert untranslated == [], "translate these in locale/en/LC_MESSAGES/django.po"
    assert fuzzy == [], "check these translations and remove their #, fuzzy flag"


def test_the_translations_keep_placeholders_and_leave_no_russian() -> None:
    for entry in _catalog():
        for index, translation in entry.msgstr.items():
            source = entry.msgid_plural if index and entry.msgid_plural else entry.msgid
            where = f"{CATALOG.name}:{entry.line} {entry.msgid!r}"
            assert sorted(PLACEHOLDER.findall(translation)) == sorted(PLACEHOLDER.findall(source)), where
            assert source.count("\n") == translation.count("\n"), where
            assert not re.search("[А-Яа-яЁё]", translation), where


def test_the_compiled_catalog_matches_the_po() -> None:
    """The .mo is committed (running needs no gettext tools): it must be compiled from the current .po."""
    with COMPILED.open("rb") as file:
        compiled = gettext.GNUTranslations(file)
    assert compiled.info().get("language") == "en"
    for entry in _catalog():
        if entry.msgid_plural:
            assert compiled.ngettext(entry.msgid, entry.msgid_plural, 1) == entry.msgstr[0], entry.msgid
            assert compiled.ngettext(entry.msgid, entry.msgid_plural, 5) == entry.msgstr[1], entry.msgid
        else:
            assert compiled.gettext(entry.msgid) == entry.msgstr[0], "run `make messages`: the .mo is stale"
