"""`{% memo %}` (core/templatetags/layout.py): the layout's fixed parts, rendered once, still follow the request."""

import re
from typing import Any

from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import translation

from users.models import User


def _active_nav(html: str) -> list[str]:
    return re.findall(r'class="nav-link active" aria-current="page" href="([^"]+)"', html)


def test_the_active_section_follows_the_page(client: Client, owner: User) -> None:
    client.force_login(owner)
    for name in ["home", "mailings:stats", "mailings:attempt_list", "home"]:
        url = reverse(name)
        assert _active_nav(client.get(url).content.decode()) == [url]


def test_the_layout_follows_the_language(client: Client, owner: User) -> None:
    client.force_login(owner)
    client.cookies["django_language"] = "ru"
    russian = client.get(reverse("mailings:stats")).content.decode()
    client.cookies["django_language"] = "en"
    english = client.get(reverse("mailings:stats")).content.decode()
    assert "Рассылки</a>" in russian and "Профиль</a>" in russian and "Вестник — сервис" in russian
    assert "Mailings</a>" in english and "Рассылки</a>" not in english and "Профиль</a>" not in english


def test_the_management_menu_follows_the_permission(client: Client, owner: User, manager: User) -> None:
    client.force_login(manager)
    assert reverse("users:user_list") in client.get(reverse("mailings:stats")).content.decode()
    client.force_login(owner)
    assert reverse("users:user_list") not in client.get(reverse("mailings:stats")).content.decode()


def test_a_fragment_is_rendered_once_per_key() -> None:
    template = Template("{% load layout %}{% memo section %}{{ section }}:{{ counter.next }}{% endmemo %}")
    calls = iter(range(100))

    class Counter:
        def next(self) -> int:
            return next(calls)

    counter = Counter()
    with translation.override("ru"):
        first = [template.render(Context({"section": s, "counter": counter})) for s in ["a", "b", "a", "b"]]
    with translation.override("en"):
        english = template.render(Context({"section": "a", "counter": counter}))
    assert first == ["a:0", "b:1", "a:0", "b:1"]
    assert english == "a:2"


def test_a_changed_setting_is_followed(client: Client, owner: User, settings: Any) -> None:
    client.force_login(owner)
    assert 'href="/static/css/vestnik.css"' in client.get(reverse("home")).content.decode()
    settings.STATIC_URL = "/elsewhere/"
    assert 'href="/elsewhere/css/vestnik.css"' in client.get(reverse("home")).content.decode()
