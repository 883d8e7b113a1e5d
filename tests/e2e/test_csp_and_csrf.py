"""In a real browser: no page breaks the Content-Security-Policy, and a refused (stale) form leads back to itself.

The pages are the real ones with the demo data, seen by a visitor, the demo user, the manager and the superuser
(the admin too). Chromium reports every blocked script, style or image in the console; there must be none, and
the little script the site has (the language switcher, the way back from the refused-form page) must work.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.e2e.live import LiveSite

pytestmark = pytest.mark.browser

PASSWORD = "vestnik-demo"  # seed_demo's (the site runs with DEBUG on)
DESKTOP = {"width": 1280, "height": 900}
IDS = """
import json
from mailings.models import Attempt, Mailing
first = {"mailing": Mailing.objects.order_by("pk").first().pk, "attempt": Attempt.objects.order_by("pk").first().pk}
print(json.dumps(first))
"""


@pytest.fixture(scope="module")
def demo(site: LiveSite) -> dict[str, int]:
    site.manage("seed_demo", "--with-mailings")
    return json.loads(site.manage("shell", "-c", IDS).strip().splitlines()[-1])


@contextmanager
def browsing(browser: Any, site: LiveSite, email: str | None) -> Iterator[tuple[Any, list[str]]]:
    """A page (signed in as `email`, or a visitor) and the CSP violations its console reported."""
    context = browser.new_context(locale="ru-RU", viewport=DESKTOP)
    context.set_default_timeout(20_000)
    page = context.new_page()
    violations: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    try:
        if email:
            page.goto(f"{site.url}/accounts/login/")
            page.fill("#id_username", email)
            page.fill("#id_password", PASSWORD)
            page.locator("main form").first.locator("button[type=submit]").click()
            page.wait_for_url(f"{site.url}/")
        yield page, violations
    finally:
        context.close()


def _visit(page: Any, site: LiveSite, paths: list[str]) -> None:
    for path in paths:
        response = page.goto(site.url + path)
        assert response is not None and response.status in (200, 404), f"{path}: {response and response.status}"
        page.wait_for_load_state("load")


def test_no_page_breaks_the_content_security_policy(site: LiveSite, e2e_browser: Any, demo: dict[str, int]) -> None:
    visitor = ["/", "/accounts/login/", "/accounts/register/", "/accounts/password/reset/", "/blog/", "/no-such-page/"]
    owner = [
        "/",
        "/mailings/",
        f"/mailings/{demo['mailing']}/",
        "/mailings/new/",
        "/recipients/",
        "/recipients/new/",
        "/messages/",
        "/attempts/",
        f"/attempts/{demo['attempt']}/",
        "/stats/",
        "/accounts/profile/",
        "/accounts/profile/edit/",
    ]
    manager = ["/accounts/users/", "/accounts/audit/", f"/mailings/{demo['mailing']}/disable/"]
    admin = ["/admin/", "/admin/mailings/mailing/", f"/admin/mailings/mailing/{demo['mailing']}/change/"]
    seen: list[str] = []
    for email, paths in [
        (None, visitor),
        ("demo@vestnik.local", owner),
        ("manager@vestnik.local", manager),
        ("admin@vestnik.local", admin),
    ]:
        with browsing(e2e_browser, site, email) as (page, violations):
            _visit(page, site, paths)
            seen += violations
    assert seen == []


def test_the_language_switcher_works_under_the_policy(site: LiveSite, e2e_browser: Any, demo: dict[str, int]) -> None:
    with browsing(e2e_browser, site, None) as (page, violations):
        page.goto(f"{site.url}/accounts/login/")
        # Choosing alone changes nothing (WCAG 3.2.2); the form's own button applies it, with no inline script.
        form = page.locator(".language-form").first
        form.locator("select[name=language]").select_option("en")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert page.locator("html").get_attribute("lang") == "en"
        assert violations == []


def test_a_stale_form_is_refused_and_the_way_back_keeps_what_was_typed(
    site: LiveSite, e2e_browser: Any, demo: dict[str, int]
) -> None:
    with browsing(e2e_browser, site, "demo@vestnik.local") as (page, violations):
        page.goto(f"{site.url}/recipients/new/")
        page.fill("#id_email", "stale.form@example.com")
        page.fill("#id_full_name", "Долго Писавший Человек")
        page.fill("#id_comment", "Набирал это полчаса")
        page.select_option("#id_consent-source", "shop")
        page.check("#id_consent-kinds_1")
        # Meanwhile the user signed out and in again in another tab: the form's token is out of date.
        other = page.context.new_page()
        other.goto(f"{site.url}/")
        with other.expect_navigation():
            other.evaluate("document.querySelector(\"form[action$='/accounts/logout/']\").submit()")
        other.goto(f"{site.url}/accounts/login/")
        other.fill("#id_username", "demo@vestnik.local")
        other.fill("#id_password", PASSWORD)
        other.locator("main form").first.locator("button[type=submit]").click()
        other.wait_for_url(f"{site.url}/")
        other.close()

        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state("load")
        assert "Форма устарела" in page.content()
        assert page.locator("h1").inner_text().startswith("Форма устарела")

        page.get_by_role("link", name="Вернуться к форме").click()
        page.wait_for_url(f"{site.url}/recipients/new/")
        assert page.input_value("#id_email") == "stale.form@example.com"
        assert page.input_value("#id_comment") == "Набирал это полчаса"
        page.select_option("#id_consent-source", "shop")
        page.check("#id_consent-kinds_1")

        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state("load")
        assert "Форма устарела" not in page.content()
        page.goto(f"{site.url}/recipients/?q=stale.form")
        assert "stale.form@example.com" in page.content()
        assert violations == []
