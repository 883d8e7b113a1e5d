"""A user who has only a keyboard: signs in, adds a recipient, writes a message, creates a mailing, sends it and
reads the attempt, with Tab, Shift+Tab, Enter, Space, arrows and typing, never the mouse.

At every step the focused element must show a focus ring (a solid outline of at least 2 px, as static/css/vestnik.css
draws it) and be on the screen. The skip link is the first stop of a page; after a rejected form the focus is on the
first invalid field; the account menu opens with Enter, is walked with the arrows and closes with Escape.
"""

import re
from typing import Any

import pytest

from tests.e2e.live import LiveSite, wait_for
from tests.support import SmtpServer

pytestmark = pytest.mark.browser

EMAIL = "klava@example.com"
PASSWORD = "Klaviatura-2026-tab"
RECIPIENT = "poluchatel.klava@example.com"
SUBJECT = "Письмо с клавиатуры"
SEND_TIMEOUT = 90.0
MAX_TABS = 60

CREATE_USER = f"""
from django.utils import timezone
from users.models import User
User.objects.create_user(email="{EMAIL}", password="{PASSWORD}", first_name="Клава", email_confirmed_at=timezone.now())
"""

# The focused element, and its focus ring: a solid outline of at least 2 px whose colour has 3:1 or more against the
# background it is drawn on (the first opaque background among the element's ancestors), WCAG 2.1's 1.4.11.
FOCUSED = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const rgb = color => (color.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const f = c => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let behind = [255, 255, 255];
  for (let node = el.parentElement; node; node = node.parentElement) {
    const [r, g, b, a = 1] = rgb(getComputedStyle(node).backgroundColor);
    if (a === 1) { behind = [r, g, b]; break; }
  }
  const style = getComputedStyle(el);
  const ring = rgb(style.outlineColor);
  const [hi, lo] = [luminance(ring), luminance(behind)].sort((x, y) => y - x);
  const box = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute('name') || '', type: el.getAttribute('type') || '',
    className: el.className || '',
    text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 80),
    href: el.getAttribute('href') || '',
    outline: style.outlineStyle + ' ' + style.outlineWidth + ' ' + style.outlineColor,
    ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
    contrast: Math.round((hi + 0.05) / (lo + 0.05) * 100) / 100,
    focusVisible: el.matches(':focus-visible'),
    onScreen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
      && box.top < window.innerHeight && box.left < window.innerWidth,
  };
}
"""


class Keyboard:
    """One page driven by keys only; every move checks that the focus can be seen."""

    def __init__(self, page: Any, site: LiveSite) -> None:
        self.page, self.site = page, site
        self.steps = 0

    def focused(self) -> dict[str, Any]:
        seen = self.page.evaluate(FOCUSED)
        assert seen, f"focus is on the page's body at {self.page.url}"
        return seen

    def check_visible(self) -> dict[str, Any]:
        seen = self.focused()
        # Tab also stops on a date or time field's picker button (calendar, clock), inside the browser's own shadow
        # tree: the page sees the field focused but not :focus-visible, and Chromium draws that button's ring itself.
        picker = seen["type"] in ("datetime-local", "date", "time") and not seen["focusVisible"]
        assert picker or (seen["focusVisible"] and seen["ring"]), f"no visible focus ring on {seen} at {self.page.url}"
        assert picker or seen["contrast"] >= 3, f"the focus ring is too faint: {seen} at {self.page.url}"
        assert seen["onScreen"], f"the focused element is off the screen: {seen} at {self.page.url}"
        self.steps += 1
        return seen

    def press(self, key: str) -> dict[str, Any]:
        self.page.keyboard.press(key)
        return self.check_visible()

    def tab_to(self, matches: Any, *, back: bool = False) -> dict[str, Any]:
        """Tab (or Shift+Tab) until the focused element satisfies `matches`; each stop must show its focus."""
        for _ in range(MAX_TABS):
            seen = self.press("Shift+Tab" if back else "Tab")
            if matches(seen):
                return seen
        raise AssertionError(f"no such element within {MAX_TABS} tab stops at {self.page.url}")

    def tab_to_text(self, text: str, *, back: bool = False) -> dict[str, Any]:
        return self.tab_to(lambda seen: seen["text"] == text, back=back)

    def tab_to_field(self, field_id: str) -> dict[str, Any]:
        return self.tab_to(lambda seen: seen["id"] == field_id)

    def activate(self, key: str = "Enter") -> None:
        with self.page.expect_navigation():
            self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def type_datetime(self, field_id: str, expected: str) -> None:
        """Type 01.01.2990 10:00 into the focused date-time field, segment by segment, as a person would.

        The segments follow the browser's language: day and month are both 01, so their order does not matter;
        an English browser adds an AM/PM segment, where "a" means AM."""
        self.type("01012990")
        self.press("Tab")  # to the hour
        self.type(expected[-5:].replace(":", ""))
        field = self.page.locator(f"#{field_id}")
        if not field.input_value():
            self.type("a")
        assert field.input_value() == expected


def test_a_keyboard_user_signs_in_creates_a_mailing_and_reads_its_attempt(
    site: LiveSite, smtp: SmtpServer, e2e_browser: Any
) -> None:
    from playwright.sync_api import expect

    site.manage("shell", "-c", CREATE_USER)
    # Reduced motion: Bootstrap then scrolls a focused element into view at once, not smoothly, so the check
    # right after a Tab sees where the page ends up (the mailing form is taller than the window).
    context = e2e_browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
    context.set_default_timeout(20_000)
    page = context.new_page()
    keys = Keyboard(page, site)
    try:
        # The login page puts the focus on the address field (autofocus).
        page.goto(f"{site.url}/accounts/login/")
        assert keys.check_visible()["id"] == "id_username"
        keys.type(EMAIL)
        keys.press("Tab")
        keys.type("wrong-password")
        keys.activate()
        # A rejected sign-in: the focus is on the error summary, read out at once.
        assert "form-error-summary" in keys.focused()["className"]
        keys.tab_to_field("id_password")
        keys.type(PASSWORD)
        keys.activate()
        expect(page).to_have_url(f"{site.url}/")
        # The first stop of a page is the skip link.
        skip = keys.press("Tab")
        assert skip["href"] == "#main", f"the first tab stop is not the skip link: {skip}"

        # The account menu: Enter opens it, the arrows walk it, Escape closes it and gives the focus back.
        keys.tab_to(lambda seen: "nav-account" in seen["className"])
        page.keyboard.press("Enter")
        expect(page.locator(".nav-account + .dropdown-menu")).to_be_visible()
        first = keys.press("ArrowDown")
        assert first["text"] == "Профиль", first
        keys.press("ArrowDown")
        page.keyboard.press("Escape")
        expect(page.locator(".nav-account + .dropdown-menu")).to_be_hidden()
        assert "nav-account" in keys.focused()["className"]
        keys.check_visible()

        # A recipient: first sent empty, then the focus waits on the first invalid field.
        keys.tab_to_text("Получатели", back=True)
        keys.activate()
        keys.tab_to_text("Добавить первого получателя")
        keys.activate()
        keys.tab_to_field("id_email")
        keys.activate()
        assert keys.focused()["id"] == "id_email", "after a rejected form the focus is not on the first invalid field"
        assert page.locator("#id_email").get_attribute("aria-describedby") == "id_email_error"
        keys.check_visible()
        keys.type(RECIPIENT)
        keys.press("Tab")
        keys.type("Клавиатурный Получатель")
        # The source of consent: a select and two checkboxes, by keyboard too.
        keys.tab_to_field("id_consent-source")
        keys.press("ArrowDown")
        assert page.locator("#id_consent-source").input_value() != ""
        keys.tab_to_field("id_consent-kinds_1")
        keys.press("Space")
        expect(page.locator("#id_consent-kinds_1")).to_be_checked()
        keys.tab_to_text("Сохранить")
        keys.activate()
        expect(page.get_by_role("alert").filter(has_text=RECIPIENT)).to_be_visible()

        # A message.
        keys.tab_to_text("Сообщения")
        keys.activate()
        keys.tab_to_text("Написать первое сообщение")
        keys.activate()
        keys.tab_to_field("id_subject")
        keys.type(SUBJECT)
        keys.tab_to_field("id_body")  # past the format choice (plain text stays the default)
        keys.type("Здравствуйте! Это письмо создано без мыши.")
        keys.tab_to_text("Сохранить")
        keys.activate()

        # A mailing starting tomorrow, sent at once with «Отправить сейчас».
        keys.tab_to_text("Рассылки")
        keys.activate()
        keys.tab_to_text("Создать первую рассылку")
        keys.activate()
        keys.tab_to_field("id_message")
        keys.press("ArrowDown")  # the first message after «— выберите сообщение —»
        keys.tab_to_field("id_start_at")  # past the sender (the service's account is the default)
        keys.type_datetime("id_start_at", "2990-01-01T10:00")
        keys.tab_to_field("id_end_at")
        keys.type_datetime("id_end_at", "2990-01-01T11:00")
        # Who gets it: the picker, by keyboard: type, Tab to the one found, Enter picks it (a chip).
        keys.tab_to_field("picker-search")
        keys.type("klava")
        expect(page.locator("#picker-results button")).to_have_count(1)
        keys.tab_to_text(f"{RECIPIENT} — Клавиатурный Получатель")
        keys.press("Enter")
        expect(page.locator("#picker-chips [data-chip]")).to_have_count(1)
        assert keys.focused()["id"] == "picker-search"  # back where the next search is typed
        keys.tab_to_text("Сохранить")
        keys.activate()
        expect(page.get_by_role("alert").filter(has_text="создана")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/mailings/\d+/$"))
        mailing_path = page.url.removeprefix(site.url)

        keys.tab_to_text("Отправить сейчас")
        keys.activate()

        final = page.locator("table tbody tr .badge").filter(has_text=re.compile("Успешно|Не успешно"))

        def attempt_is_final() -> bool:
            page.goto(site.url + mailing_path)
            return final.count() > 0

        wait_for(attempt_is_final, timeout=SEND_TIMEOUT, every=1.0, what=f"the attempt to finish\n{site.logs()}")
        assert [m for m in smtp.messages if m.subject == SUBJECT and RECIPIENT in m.rcpt_tos]

        # The attempt, reached with the skip link and Tab.
        assert keys.press("Tab")["href"] == "#main"
        page.keyboard.press("Enter")  # past the menu, into the main content
        keys.tab_to_text("Подробно")
        keys.activate()
        expect(page.get_by_role("heading", name=re.compile("Попытка рассылки"))).to_be_visible()
        expect(page.locator("main table")).to_contain_text(RECIPIENT)
        assert keys.steps > 20
    finally:
        context.close()
