"""In a real browser: an owner turns on a list's subscribe form and copies the snippet; a visitor subscribes through
the snippet on another site (a cross-origin POST without a CSRF token), gets the email from the real worker, opens
the link, confirms with the button, and becomes a member of the list with both consents recorded."""

import json
import re
from typing import Any

import pytest

from tests.e2e.live import LiveSite, wait_for
from tests.support import SmtpServer

pytestmark = pytest.mark.browser

OWNER, PASSWORD = "shop-owner@example.com", "a-long-Unusual-passphrase-42"
VISITOR = "visitor.olga@example.com"
SETUP = f"""
from django.utils import timezone
from audience.models import List
from users.models import User
owner = User.objects.create_user(email="{OWNER}", password="{PASSWORD}", first_name="Ромашка",
                                 email_confirmed_at=timezone.now())
print(List.objects.create(owner=owner, name="Новости Ромашки").pk)
"""
RESULT = f"""
import json
from audience.models import List
from consents.models import ConsentRecord
members = list(List.objects.get(name="Новости Ромашки").members.values_list("email", flat=True))
records = sorted(ConsentRecord.objects.filter(email="{VISITOR}").values_list("kind", "method", "wording__version"))
print(json.dumps({{"members": members, "records": records}}))
"""


def _last_json(output: str) -> Any:
    return json.loads(output.strip().splitlines()[-1])


def test_subscribe_through_the_snippet_and_confirm_from_the_email(
    site: LiveSite, smtp: SmtpServer, e2e_browser: Any
) -> None:
    list_pk = _last_json(site.manage("shell", "-c", SETUP))
    owner_context = e2e_browser.new_context(locale="ru-RU")
    owner_context.set_default_timeout(20_000)
    page = owner_context.new_page()
    page.goto(f"{site.url}/accounts/login/")
    page.fill("#id_username", OWNER)
    page.fill("#id_password", PASSWORD)
    page.locator("main form").first.locator("button[type=submit]").click()
    page.wait_for_url(f"{site.url}/")
    page.goto(f"{site.url}/lists/{list_pk}/")
    page.get_by_role("link", name="Форма подписки").click()
    page.get_by_role("button", name="Включить форму").click()
    snippet = page.get_by_role("textbox", name="Код для вашего сайта").input_value()
    owner_context.close()
    assert '<form method="post" action="http://127.0.0.1:' in snippet and "csrf" not in snippet

    visitor_context = e2e_browser.new_context(locale="ru-RU")
    visitor_context.set_default_timeout(20_000)
    visitor = visitor_context.new_page()
    # The owner's site: another origin (about:blank), no cookies of Vestnik's, the snippet as pasted.
    visitor.set_content(f"<!doctype html><html><body><h1>Магазин «Ромашка»</h1>{snippet}</body></html>")
    visitor.fill("input[name=full_name]", "Ольга")
    visitor.fill("input[name=email]", VISITOR)
    visitor.check("input[name=personal_data]")
    visitor.check("input[name=advertising]")
    with visitor.expect_navigation():
        visitor.get_by_role("button", name="Подписаться").click()
    assert "Проверьте почту" in visitor.content()

    message = wait_for(lambda: smtp.handler.to(VISITOR), timeout=30, what=f"the confirmation email\n{site.logs()}")[0]
    link = re.search(r"https?://\S+/subscribe/confirm/\S+/", message.text)
    assert link, message.text
    visitor.goto(link.group(0))
    # Opening the link changed nothing yet.
    assert _last_json(site.manage("shell", "-c", RESULT))["members"] == []
    visitor.get_by_role("button", name="Подтвердить подписку").click()
    visitor.wait_for_load_state("load")
    assert "подписан" in visitor.content()
    visitor_context.close()

    result = _last_json(site.manage("shell", "-c", RESULT))
    assert result["members"] == [VISITOR]
    assert result["records"] == [["advertising", "form", 1], ["personal_data", "form", 1]]
