"""A first-time user's journey in a real browser, against the real web, worker and scheduler processes.

Register, confirm the address from the email, sign out and in, add recipients, write a message,
schedule a mailing a few seconds ahead and watch the scheduler and the worker send it, read the
attempt and the statistics; a manager blocks the user (whose session ends on the next request)
and unblocks them; the user resets the password from the email.

The tests run in order and share one site, but each can run alone: a test first runs the steps
it needs that have not run yet (`Journey.ensure`).
"""

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.live import LiveSite, wait_for
from tests.support import SmtpServer

pytestmark = pytest.mark.browser

EMAIL = "olga.first@example.com"
PASSWORD = "Sinitsa-vesna-2026"
NEW_PASSWORD = "Sever-luna-2027"
FIRST_NAME = "Ольга"
RECIPIENTS = [
    ("ivan.petrov@example.com", "Петров Иван"),
    ("maria.sokolova@example.com", "Соколова Мария"),
    # The sink refuses this mailbox with 550 (conftest.UNKNOWN_MAILBOX).
    ("nobody@example.com", "Несуществующий адрес"),
]
SUBJECT = "Весенние новости"
LIST_NAME = "Постоянные клиенты"
LIST_MEMBERS = [("olga.client@example.com", "Клиентова Ольга"), ("petr.client@example.com", "Клиентов Пётр")]
MANAGER_EMAIL = "manager.e2e@example.com"
MANAGER_PASSWORD = "Menedzher-2026-e2e"
BLOCK_REASON = "Жалобы на спам"
TIME_ZONE = ZoneInfo("Europe/Moscow")  # LiveSite's TIME_ZONE: the time the mailing form reads

START_IN = timedelta(seconds=6)
MAIL_TIMEOUT = 60.0  # seconds for an account email to pass the queue, the worker and SMTP
SEND_TIMEOUT = 90.0  # seconds from the mailing's start until its attempt is final
UI_TIMEOUT_MS = 20_000

CREATE_USER = """
from django.utils import timezone
from users.models import User
User.objects.create_user(
    email="{email}", password="{password}", first_name="Менеджер", email_confirmed_at=timezone.now()
)
"""


class Journey:
    """One user's browser (and a manager's), and the steps of the journey, each run at most once."""

    def __init__(self, site: LiveSite, smtp: SmtpServer, browser: Any) -> None:
        from playwright.sync_api import expect

        # Generous for a busy two-core machine: each check still returns as soon as it holds.
        expect.set_options(timeout=UI_TIMEOUT_MS)
        self.site, self.smtp, self.browser = site, smtp, browser
        self.page = self._new_page()
        self.done: dict[str, bool] = {}
        self.mailing_path = ""
        self.attempt_path = ""

    def _new_page(self) -> Any:
        context = self.browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(UI_TIMEOUT_MS)
        return context.new_page()

    def ensure(self, *steps: str) -> None:
        """Run each step unless it has run; a step that failed before fails its dependants at once."""
        for step in steps:
            if step in self.done:
                if not self.done[step]:
                    pytest.fail(f"an earlier step failed: {step}")
                continue
            self.done[step] = False
            getattr(self, step)()
            self.done[step] = True

    def go(self, path: str, page: Any = None) -> Any:
        page = page or self.page
        page.goto(self.site.url + path)
        return page

    def mail_link(self, to: str, pattern: str, *, seen: int) -> str:
        """The link matching `pattern` in the first email to `to` after the `seen` earlier ones."""

        def arrived() -> str:
            for message in self.smtp.handler.to(to)[seen:]:
                found = re.search(pattern, message.text)
                if found:
                    return found.group(0)
            return ""

        return wait_for(arrived, timeout=MAIL_TIMEOUT, what=f"an email to {to} with {pattern}\n{self.site.logs()}")

    def signed_in(self, page: Any, email: str, password: str) -> None:
        self.go("/accounts/login/", page)
        if "/accounts/login/" not in page.url:  # already signed in: the login page sends them home
            return
        page.fill("#id_username", email)
        page.fill("#id_password", password)
        page.get_by_role("button", name="Войти").click()
        page.wait_for_url(self.site.url + "/")

    def expect_message(self, text: str, page: Any = None) -> None:
        from playwright.sync_api import expect

        expect((page or self.page).get_by_role("alert").filter(has_text=text)).to_be_visible()

    def expect_field_error(self, field_id: str, text: str) -> None:
        """The error is shown under its own field, and the field is marked invalid."""
        from playwright.sync_api import expect

        field = self.page.locator(f"#{field_id}")
        expect(field).to_have_class(re.compile(r"\bis-invalid\b"))
        group = self.page.locator("div.mb-3").filter(has=field)
        expect(group.locator(".invalid-feedback")).to_contain_text(text)
        # The page's script has moved focus to the first field to fix (static/js/vestnik.js). Typing before it
        # has, under load, sent the next field's text into that one.
        expect(self.page.locator('main form .is-invalid, main form [aria-invalid="true"]').first).to_be_focused()

    # --- the steps ---------------------------------------------------------------------------------------------

    def register(self) -> None:
        from playwright.sync_api import expect

        page = self.go("/")
        page.get_by_role("link", name="Регистрация").first.click()
        page.fill("#id_email", EMAIL)
        page.fill("#id_first_name", FIRST_NAME)
        page.fill("#id_last_name", "Первова")
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD + "x")
        page.get_by_role("button", name="Зарегистрироваться").click()
        # A typo in the repeated password: said under that field, the rest is kept.
        self.expect_field_error("id_password2", "")
        expect(page.locator("#id_email")).to_have_value(EMAIL)
        # The page with the error is settled (loaded, nothing in flight, focus moved to the error) before it is
        # typed into again: under load a late script or response must not catch a half-filled form.
        page.wait_for_load_state("networkidle")
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD)
        expect(page.locator("#id_password1")).to_have_value(PASSWORD)
        expect(page.locator("#id_password2")).to_have_value(PASSWORD)
        page.get_by_role("button", name="Зарегистрироваться").click()
        expect(page.get_by_role("heading", name="Почти готово")).to_be_visible()
        expect(page.get_by_text(EMAIL)).to_be_visible()

        link = self.mail_link(EMAIL, r"https?://\S+/accounts/confirm/\S+/", seen=0)
        assert link.startswith(self.site.url)
        page.goto(link)
        # Opening the link does not confirm (mail scanners open links): the button does.
        page.get_by_role("button", name=re.compile("Подтвердить")).click()
        page.wait_for_url(self.site.url + "/")
        self.expect_message("Адрес подтверждён")
        expect(page.locator("#mainnav").get_by_role("link", name=re.compile(FIRST_NAME))).to_be_visible()

    def log_out_and_in(self) -> None:
        from playwright.sync_api import expect

        page = self.page
        self.go("/")
        # Выход is in the account menu, under the user's name.
        page.locator("#mainnav").get_by_role("link", name=re.compile(FIRST_NAME)).click()
        page.locator("#mainnav").get_by_role("button", name="Выход").click()
        self.expect_message("Вы вышли из учётной записи")
        nav_login = page.locator("#mainnav").get_by_role("link", name="Вход")
        expect(nav_login).to_be_visible()
        nav_login.click()
        page.fill("#id_username", EMAIL)
        page.fill("#id_password", "not-the-password")
        page.get_by_role("button", name="Войти").click()
        expect(page.get_by_role("alert").filter(has_text="Неверный адрес")).to_be_visible()
        page.fill("#id_password", PASSWORD)
        page.get_by_role("button", name="Войти").click()
        page.wait_for_url(self.site.url + "/")
        expect(page.locator("#mainnav").get_by_role("link", name=re.compile(FIRST_NAME))).to_be_visible()

    def add_recipients(self) -> None:
        from playwright.sync_api import expect

        page = self.page
        self.signed_in(page, EMAIL, PASSWORD)
        page.locator("#mainnav").get_by_role("link", name="Получатели").click()
        # The empty list says what to do next.
        page.get_by_role("link", name="Добавить первого получателя").click()
        page.fill("#id_email", "ivan.petrov@")
        page.get_by_role("button", name="Сохранить").click()
        self.expect_field_error("id_email", "Введите правильный адрес")
        for number, (email, full_name) in enumerate(RECIPIENTS):
            if number:
                self.go("/recipients/new/")
            page.fill("#id_email", email)
            page.fill("#id_full_name", full_name)
            page.select_option("#id_consent-source", "shop")
            page.check("#id_consent-kinds_0")
            page.check("#id_consent-kinds_1")
            expect(page.locator("#id_email")).to_have_value(email)
            expect(page.locator("#id_full_name")).to_have_value(full_name)
            page.get_by_role("button", name="Сохранить").click()
            self.expect_message(f"Получатель {email} добавлен")
        self.go("/recipients/")
        rows = page.locator("table tbody tr")
        expect(rows).to_have_count(len(RECIPIENTS))

    def write_message(self) -> None:
        page = self.page
        self.signed_in(page, EMAIL, PASSWORD)
        page.locator("#mainnav").get_by_role("link", name="Сообщения").click()
        page.get_by_role("link", name="Написать первое сообщение").click()
        page.fill("#id_subject", SUBJECT)
        page.fill("#id_body", "Здравствуйте!\n\nУ нас весна и новые товары.")
        page.get_by_role("button", name="Сохранить").click()
        self.expect_message(f"Сообщение «{SUBJECT}» создано")

    def preview_and_test_send(self) -> None:
        """A formatted, personalised message: the form's error says where, the preview shows it as one
        recipient gets it (HTML in a sandboxed frame), and a test copy reaches the owner only."""
        from playwright.sync_api import expect

        page = self.page
        self.signed_in(page, EMAIL, PASSWORD)
        self.go("/messages/new/")
        page.fill("#id_subject", "Весна для {{ имя }}")
        page.select_option("#id_format", value="markdown")
        page.fill("#id_body", "# Здравствуйте, {{ имя }}!\n\nУ нас **весна** и {{ фамилия }}.")
        page.get_by_role("button", name="Сохранить").click()
        self.expect_field_error("id_body", "Строка 3, символ 19: неизвестное имя «фамилия»")
        page.fill("#id_body", '# Здравствуйте, {{ имя|default:"клиент" }}!\n\nУ нас **весна**.')
        page.get_by_role("button", name="Сохранить").click()
        self.expect_message("Сообщение «Весна для {{ имя }}» создано")

        page.get_by_role("link", name="Предпросмотр и тест").click()
        page.select_option("#preview-recipient", label="ivan.petrov@example.com — Петров Иван")
        page.get_by_role("button", name="Показать").click()
        expect(page.get_by_test_id("preview-subject")).to_have_text("Весна для Петров Иван")
        expect(page.get_by_test_id("preview-text")).to_contain_text("Здравствуйте, Петров Иван!")
        frame = page.frame_locator("iframe[sandbox]")
        expect(frame.get_by_role("heading", name="Здравствуйте, Петров Иван!")).to_be_visible()
        expect(frame.locator("strong")).to_have_text("весна")

        seen = len(self.smtp.handler.to(EMAIL))
        page.get_by_role("button", name="Отправить тестовое письмо").click()
        self.expect_message("Тестовое письмо поставлено в очередь")

        def test_copy() -> Any:
            return next((m for m in self.smtp.handler.to(EMAIL)[seen:] if m.subject.startswith("[Тест]")), None)

        received = wait_for(test_copy, timeout=MAIL_TIMEOUT, what=f"the test email\n{self.site.logs()}")
        assert received.subject == f"[Тест] Весна для {FIRST_NAME} Первова"
        assert "<strong>весна</strong>" in received.html
        assert not any(r != EMAIL for m in self.smtp.messages if m.subject.startswith("[Тест]") for r in m.rcpt_tos)

    def create_mailing(self) -> None:
        from playwright.sync_api import expect

        page = self.page
        self.signed_in(page, EMAIL, PASSWORD)
        page.locator("#mainnav").get_by_role("link", name="Рассылки").click()
        page.get_by_role("link", name="Создать первую рассылку").click()
        page.select_option("#id_message", label=SUBJECT)
        # The picker: search, then pick each one found (a chip each); the count follows.
        page.fill("#picker-search", "example.com")
        found = page.locator("#picker-results button")
        expect(found).to_have_count(len(RECIPIENTS))
        for _ in RECIPIENTS:
            found.first.click()
        expect(page.locator("#picker-chips [data-chip]")).to_have_count(len(RECIPIENTS))
        expect(page.locator("#audience-count")).to_have_text(str(len(RECIPIENTS)))
        start = datetime.now(TIME_ZONE).replace(microsecond=0) + START_IN
        set_value = "(input, value) => { input.value = value; }"
        page.locator("#id_start_at").evaluate(set_value, start.strftime("%Y-%m-%dT%H:%M:%S"))
        page.locator("#id_end_at").evaluate(set_value, (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
        page.select_option("#id_periodicity", value="once")
        page.get_by_role("button", name="Сохранить").click()
        self.expect_message("создана")
        expect(page).to_have_url(re.compile(r"/mailings/\d+/$"))
        self.mailing_path = page.url.removeprefix(self.site.url)

    def watch_it_send(self) -> None:
        from playwright.sync_api import expect

        page = self.page
        self.signed_in(page, EMAIL, PASSWORD)
        self.go(self.mailing_path)
        final = page.locator("table tbody tr .badge").filter(has_text=re.compile("Успешно|Не успешно"))

        def attempt_is_final() -> bool:
            page.reload()
            return final.count() > 0

        wait_for(attempt_is_final, timeout=SEND_TIMEOUT, every=1.0, what=f"the attempt to finish\n{self.site.logs()}")
        # One message to each address the server accepted, none twice; the refused one is reported.
        delivered = sorted(r for m in self.smtp.messages if m.subject == SUBJECT for r in m.rcpt_tos)
        assert delivered == ["ivan.petrov@example.com", "maria.sokolova@example.com"]
        expect(final).to_have_text("Не успешно")
        self.dates_follow_the_language()

        page.get_by_role("link", name="Подробно").click()
        expect(page.get_by_role("heading", name=re.compile("Попытка рассылки"))).to_be_visible()
        expect(
            page.get_by_text("принято сервером 2 (возвратов 0), не доставлено 1, неизвестно 0, пропущено 0 из 3")
        ).to_be_visible()
        refused = page.locator("table tbody tr").filter(has_text="nobody@example.com")
        expect(refused).to_contain_text("550")
        expect(refused).to_contain_text("User unknown")
        self.attempt_path = page.url.removeprefix(self.site.url)

        page.locator("#mainnav").get_by_role("link", name="Попытки").click()
        rows = page.locator("table tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(SUBJECT)
        # What is on the screen and what a screen reader reads: each count with its word, on a desktop too.
        counts = (
            r"2\s+принято сервером\s*/\s*0\s+возвратов\s*/\s*1\s+не доставлено\s*/\s*0\s+неизвестно"
            r"\s*/\s*0\s+пропущено\s*из 3"
        )
        expect(rows.first).to_contain_text(re.compile(counts), use_inner_text=True)

        page.locator("#mainnav").get_by_role("link", name="Статистика").click()
        for label, number in [
            ("Попыток всего", "1"),
            ("Успешных попыток", "0"),
            ("Неуспешных попыток", "1"),
            ("Писем доставлено", "2"),
        ]:
            card = page.locator(".card").filter(has=page.get_by_text(label, exact=True))
            expect(card.locator(".display-6")).to_have_text(number)
        expect(page.locator(".card").filter(has_text="Писем доставлено")).to_contain_text("не доставлено: 1")

    def outage_is_shown_live_and_the_run_resumes(self) -> None:
        """The mail server refuses the account for a while: the attempt says why it waits, then finishes by itself.

        Neither page is reloaded by hand: the progress block refreshes itself (htmx), and reloads the page once
        the run is over.
        """
        from playwright.sync_api import expect

        page = self.page
        self.signed_in(page, EMAIL, PASSWORD)
        self.smtp.handler.on_mail = lambda sender: "421 4.7.0 Try again later"
        try:
            self.go(self.mailing_path)
            page.get_by_role("button", name="Отправить сейчас").click()
            self.expect_message("Отправка запущена")
            expect(page.locator("#sending-paused")).to_contain_text("421 4.7.0 Try again later")
            expect(page.locator("#sending-progress progress")).to_be_visible()
            page.locator("table tbody tr").first.get_by_role("link", name="Подробно").click()
            expect(page.locator("#sending-paused")).to_contain_text("Отправка приостановлена")
            waiting = page.locator("table tbody tr").filter(has_text="ivan.petrov@example.com")
            expect(waiting).to_contain_text("В очереди")
            expect(waiting).to_contain_text("сервер временно отклонил отправителя")
        finally:
            self.smtp.handler.on_mail = None
        # The breaker's probe succeeds: the run goes on and ends, and the page shows its result unasked.
        summary = page.get_by_text("принято сервером 2 (возвратов 0), не доставлено 1, неизвестно 0, пропущено 0 из 3")
        expect(summary).to_be_visible(timeout=SEND_TIMEOUT * 1000)
        expect(page.locator("#sending-status")).to_have_count(0)

    def import_and_mail_a_list(self) -> None:
        """A Windows-1251 CSV with semicolons becomes a list; a mailing to that list goes out; the ledger downloads."""
        from playwright.sync_api import expect

        page = self.page
        self.signed_in(page, EMAIL, PASSWORD)
        page.locator("#mainnav").get_by_role("link", name="Получатели").click()
        page.get_by_role("link", name="Загрузить из файла").click()
        rows = ["Email;ФИО;Список", *(f"{email};{name};{LIST_NAME}" for email, name in LIST_MEMBERS), "не-адрес;Никто;"]
        page.set_input_files(
            "#id_file",
            files=[{"name": "клиенты.csv", "mimeType": "text/csv", "buffer": "\r\n".join(rows).encode("cp1251")}],
        )
        page.get_by_role("button", name="Загрузить и посмотреть").click()
        expect(page.get_by_role("cell", name=LIST_MEMBERS[0][1])).to_be_visible()  # the preview, read right
        expect(page.locator("#id_list_column")).to_have_value("2")  # guessed from the header
        # Where the file's consents come from: asked before anything is imported.
        page.select_option("#id_consent-source", "event")
        page.fill("#id_consent-source_note", "анкеты с весенней ярмарки")
        page.check("#id_consent-kinds_0")
        page.check("#id_consent-kinds_1")
        page.get_by_role("button", name="Загрузить получателей").click()
        # The progress page refreshes itself until the import is done.
        expect(page.get_by_text("Импорт завершён")).to_be_visible(timeout=MAIL_TIMEOUT * 1000)
        expect(page.locator("dd").nth(1)).to_have_text("2")
        with page.expect_download() as report:
            page.get_by_role("link", name="Скачать отклонённые строки (CSV)").click()
        assert "не-адрес" in Path(report.value.path()).read_text(encoding="utf-8-sig")

        page.locator("#mainnav").get_by_role("link", name="Рассылки").click()
        page.get_by_role("link", name=re.compile("Создать рассылку|Новая рассылка")).first.click()
        page.select_option("#id_message", label=SUBJECT)
        page.get_by_label(LIST_NAME).check()
        expect(page.locator("#audience-count")).to_have_text(str(len(LIST_MEMBERS)))
        start = datetime.now(TIME_ZONE).replace(second=0, microsecond=0)  # the window is open: it goes out at once
        set_value = "(input, value) => { input.value = value; }"
        page.locator("#id_start_at").evaluate(set_value, start.strftime("%Y-%m-%dT%H:%M"))
        page.locator("#id_end_at").evaluate(set_value, (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="Сохранить").click()
        self.expect_message("создана")
        final = page.locator("table tbody tr .badge").filter(has_text=re.compile("Успешно|Не успешно"))

        def attempt_is_final() -> bool:
            page.reload()
            return final.count() > 0

        wait_for(attempt_is_final, timeout=SEND_TIMEOUT, every=1.0, what=f"the list mailing\n{self.site.logs()}")
        expect(final).to_have_text("Успешно")
        for email, _name in LIST_MEMBERS:
            assert len(self.smtp.handler.to(email)) == 1, email
        page.get_by_role("link", name="Подробно").click()
        with page.expect_download() as ledger:
            page.get_by_role("link", name="Скачать CSV").click()
        text = Path(ledger.value.path()).read_text(encoding="utf-8-sig")
        assert all(email in text for email, _name in LIST_MEMBERS) and "Доставлено" in text

    def dates_follow_the_language(self) -> None:
        """The mailing's start reads 22.11.2026 in Russian and 11/22/2026 in English (the switcher in the menu)."""
        from playwright.sync_api import expect

        page = self.page
        start = page.locator("dt", has_text="Начало").locator("xpath=following-sibling::dd[1]")
        expect(start).to_have_text(re.compile(r"^\d\d\.\d\d\.\d{4} \d\d:\d\d$"))
        day, month, year = start.inner_text()[:10].split(".")
        page.locator("#mainnav").get_by_role("link", name=re.compile(FIRST_NAME)).click()
        # Choosing alone changes nothing (WCAG 3.2.2); the button applies it.
        page.locator("#mainnav select[name=language]").select_option("en")
        expect(page.locator("html")).to_have_attribute("lang", "ru")
        with page.expect_navigation():
            page.locator("#mainnav .language-form button[type=submit]").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("main dd").filter(has_text=f"{month}/{day}/{year}").first).to_be_visible()
        page.locator("#mainnav .nav-account").click()
        page.locator("#mainnav select[name=language]").select_option("ru")
        with page.expect_navigation():
            page.locator("#mainnav .language-form button[type=submit]").click()
        expect(page.locator("html")).to_have_attribute("lang", "ru")

    def manager_blocks_and_unblocks(self) -> None:
        from playwright.sync_api import expect

        self.site.manage("shell", "-c", CREATE_USER.format(email=MANAGER_EMAIL, password=MANAGER_PASSWORD))
        self.site.manage("create_managers", "--add", MANAGER_EMAIL)
        manager = self._new_page()
        try:
            self.signed_in(manager, MANAGER_EMAIL, MANAGER_PASSWORD)
            manager.locator("#mainnav").get_by_role("link", name="Управление").click()
            manager.locator("#mainnav").get_by_role("link", name="Пользователи").click()
            row = manager.locator("table tbody tr").filter(has_text=EMAIL)
            row.get_by_role("link", name="Заблокировать").click()
            manager.fill("#id_reason", BLOCK_REASON)
            manager.get_by_role("button", name="Заблокировать").click()
            self.expect_message(f"Пользователь {EMAIL} заблокирован", manager)
            expect(row).to_contain_text(BLOCK_REASON)

            # The user's next request ends their session, with the reason.
            page = self.page
            page.reload()
            expect(page).to_have_url(re.compile(r"/accounts/login/"))
            self.expect_message("заблокирована")
            self.expect_message(BLOCK_REASON)
            expect(page.locator("#mainnav").get_by_role("link", name="Вход")).to_be_visible()

            row.get_by_role("link", name="Разблокировать").click()
            manager.get_by_role("button", name="Разблокировать").click()
            self.expect_message(f"Пользователь {EMAIL} разблокирован", manager)
        finally:
            manager.context.close()

    def reset_password(self) -> None:
        from playwright.sync_api import expect

        page = self._new_page()  # a visitor who forgot the password: no session
        try:
            self.go("/accounts/login/", page)
            page.get_by_role("link", name="Забыли пароль?").click()
            seen = len(self.smtp.handler.to(EMAIL))
            page.fill("#id_email", EMAIL)
            page.get_by_role("button", name="Прислать ссылку").click()
            expect(page.get_by_role("heading", name="Проверьте почту")).to_be_visible()

            link = self.mail_link(EMAIL, r"https?://\S+/accounts/password/reset/\S+/", seen=seen)
            page.goto(link)
            page.fill("#id_new_password1", NEW_PASSWORD)
            page.fill("#id_new_password2", NEW_PASSWORD)
            page.get_by_role("button", name="Сохранить пароль").click()
            expect(page.get_by_role("heading", name="Пароль изменён")).to_be_visible()

            page.get_by_role("main").get_by_role("link", name="Войти").click()
            page.fill("#id_username", EMAIL)
            page.fill("#id_password", NEW_PASSWORD)
            page.get_by_role("button", name="Войти").click()
            page.wait_for_url(self.site.url + "/")
            expect(page.locator("#mainnav").get_by_role("link", name=re.compile(FIRST_NAME))).to_be_visible()
        finally:
            page.context.close()


@pytest.fixture(scope="module")
def journey(site: LiveSite, smtp: SmtpServer, e2e_browser: Any) -> Iterator[Journey]:
    trip = Journey(site, smtp, e2e_browser)
    yield trip
    trip.page.context.close()


def test_a_visitor_registers_and_confirms_the_address_from_the_email(journey: Journey) -> None:
    journey.ensure("register")


def test_the_user_signs_out_and_in_again(journey: Journey) -> None:
    journey.ensure("register", "log_out_and_in")


def test_the_user_adds_recipients_and_sees_a_wrong_address_explained_at_its_field(journey: Journey) -> None:
    journey.ensure("register", "add_recipients")


def test_the_user_writes_a_message(journey: Journey) -> None:
    journey.ensure("register", "write_message")


def test_the_user_previews_a_personalised_message_and_sends_a_test_to_themselves(journey: Journey) -> None:
    journey.ensure("register", "add_recipients", "write_message", "preview_and_test_send")


def test_the_user_schedules_a_mailing_a_few_seconds_ahead(journey: Journey) -> None:
    journey.ensure("register", "add_recipients", "write_message", "create_mailing")


def test_the_mailing_is_sent_on_time_and_the_attempt_and_statistics_show_it(journey: Journey) -> None:
    journey.ensure("register", "add_recipients", "write_message", "create_mailing", "watch_it_send")


def test_an_outage_is_shown_on_the_run_which_then_finishes_with_live_progress(journey: Journey) -> None:
    journey.ensure(
        "register",
        "add_recipients",
        "write_message",
        "create_mailing",
        "watch_it_send",
        "outage_is_shown_live_and_the_run_resumes",
    )


def test_the_user_imports_a_file_into_a_list_mails_the_list_and_downloads_the_ledger(journey: Journey) -> None:
    steps = ("register", "add_recipients", "write_message", "create_mailing", "watch_it_send")
    journey.ensure(*steps, "import_and_mail_a_list")


def test_a_manager_blocks_the_user_whose_session_ends_on_the_next_request(journey: Journey) -> None:
    journey.ensure("register", "manager_blocks_and_unblocks")


def test_the_user_resets_the_password_from_the_email(journey: Journey) -> None:
    journey.ensure("register", "reset_password")
