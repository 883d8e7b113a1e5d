"""Unsubscribing in a real browser and as a mail client, against the real web, worker and scheduler processes.

A mailing reaches two recipients; one unsubscribes with one click from the headers (a plain HTTP POST, as a
mail client sends it: no cookies, no CSRF token), subscribes again and unsubscribes from the body's link in
the browser; the next run skips the address, and the owner finds it on «Отписки».
"""

import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.live import LiveSite
from tests.support import ReceivedMessage, SmtpServer

pytestmark = pytest.mark.browser

OWNER = "shop.owner@example.com"
PASSWORD = "Magazin-vesna-2026"
SUBJECT = "Скидки недели"
MAIL_TIMEOUT = 90.0
UI_TIMEOUT_MS = 20_000

SET_UP = """
from datetime import timedelta
from django.utils import timezone
from mailings.models import Mailing, Message, Recipient
from users.models import User
owner = User.objects.create_user(
    email="{owner}", password="{password}", first_name="Ольга", email_confirmed_at=timezone.now(),
    sender_name="Цветочная лавка",
)
message = Message.objects.create(
    owner=owner, subject="{subject}", body="Здравствуйте, {{{{ имя }}}}!", format="markdown"
)
now = timezone.now()
mailing = Mailing.objects.create(
    owner=owner, message=message, start_at=now + timedelta(days=1), end_at=now + timedelta(days=2)
)
mailing.recipients.set([
    Recipient.objects.create(owner=owner, email="anna@example.com", full_name="Анна"),
    Recipient.objects.create(owner=owner, email="boris@example.com", full_name="Борис"),
])
print(mailing.pk)
"""


@pytest.fixture(scope="module")
def mailing_id(site: LiveSite) -> str:
    out = site.manage("shell", "-c", SET_UP.format(owner=OWNER, password=PASSWORD, subject=SUBJECT))
    return out.strip().splitlines()[-1]


def _run(site: LiveSite, smtp: SmtpServer, mailing_id: str) -> list[ReceivedMessage]:
    seen = len(smtp.messages)
    site.manage("send_mailing", mailing_id, "--wait", "--timeout", "60", timeout=MAIL_TIMEOUT)
    return [m for m in smtp.messages[seen:] if m.subject == SUBJECT]


@pytest.fixture(scope="module")
def page(e2e_browser: Any) -> Iterator[Any]:
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    context = e2e_browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    yield context.new_page()
    context.close()


def test_one_click_from_the_headers_then_the_link_and_the_next_run_skips_the_address(
    site: LiveSite, smtp: SmtpServer, mailing_id: str, page: Any
) -> None:
    from playwright.sync_api import expect

    first = _run(site, smtp, mailing_id)
    assert sorted(r for m in first for r in m.rcpt_tos) == ["anna@example.com", "boris@example.com"]
    anna = next(m for m in first if m.rcpt_tos == ["anna@example.com"])
    assert anna.parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = re.sub(r"\s+", "", str(anna.parsed["List-Unsubscribe"]))
    one_click = re.search(r"<(http[^>]+/one-click/)>", header)
    assert one_click is not None and one_click[1].startswith(site.url), header

    # What a mail client does (RFC 8058): a POST with this body, no cookies, no CSRF token.
    request = urllib.request.Request(
        one_click[1],
        data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200

    # The body's link: the page says so; subscribe again, then unsubscribe from the page with a reason.
    link = re.search(r"\((http\S+/unsubscribe/[\w-]+/)\)", anna.text)
    assert link is not None, anna.text
    page.goto(link[1])
    expect(page.locator("#unsubscribe-state")).to_contain_text("anna@example.com")
    expect(page.locator("#unsubscribe-state")).to_contain_text("Цветочная лавка")
    page.get_by_role("button", name="Подписаться снова").click()
    expect(page.get_by_role("alert").filter(has_text="снова подписаны")).to_be_visible()
    page.fill("#id_reason", "Слишком часто")
    page.get_by_role("button", name="Отписаться").click()
    expect(page.get_by_role("alert").filter(has_text="вы отписаны")).to_be_visible()

    second = _run(site, smtp, mailing_id)
    assert [m.rcpt_tos for m in second] == [["boris@example.com"]]

    # The owner sees the entry, how and why.
    page.goto(site.url + "/accounts/login/")
    page.fill("#id_username", OWNER)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(site.url + "/")
    page.locator("#mainnav").get_by_role("link", name="Отписки").click()
    tables = page.locator("table")
    row = tables.nth(0).locator("tbody tr").filter(has_text="anna@example.com")
    expect(row).to_contain_text("ссылка отписки в письме")
    expect(row).to_contain_text("Слишком часто")
    # The earlier one-click entry, undone by the recipient, stays on record below.
    lifted = tables.nth(1).locator("tbody tr").filter(has_text="anna@example.com")
    expect(lifted).to_contain_text("отписка в один клик")
    expect(lifted).to_contain_text("получатель подписался снова")


def test_a_forged_link_shows_nothing(site: LiveSite, page: Any) -> None:
    from playwright.sync_api import expect

    response = page.goto(site.url + "/unsubscribe/AVuhc9ber6NhcU-forged-dNuJsPRacz/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Ссылка недействительна")).to_be_visible()
