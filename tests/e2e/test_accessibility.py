"""WCAG 2.1 AA on every page: axe-core in a real browser, for every role, in both languages, on a desktop and a phone.

axe-core comes from npm (`package.json` / `package-lock.json` at the repository's root, installed by `make test`
with `npm ci`). Each page is loaded once per role and language; axe runs on it at 1280 px, then the same page is
narrowed to 375 px and axe runs again. Besides the plain pages the states that add markup are checked too: a form
with errors, a flash message, the account and management menus opened, the phone's collapsed menu opened.

Playwright's async API drives both languages of a role at once (one browser, a context each): a page's axe run is
mostly the browser's work, so the two share the machine's cores and the file stays quick.

Every violation found is printed (`-s` shows them on success too); the test fails on any critical or serious one,
and on a moderate or minor one that is not in MODERATE_ACCEPTED with the reason it stays.
"""

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse

from tests.e2e.live import BASE_DIR, LiveSite, launch_chromium

AXE_PATH = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
AXE_MISSING = (
    "the accessibility tests need axe-core from npm, and node_modules/axe-core is missing: "
    "run `npm ci` in the project folder (make test does it when npm is installed)"
)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
PASSWORD = "vestnik-demo"  # seed_demo's
USER_EMAIL = "demo@vestnik.local"
MANAGER_EMAIL = "manager@vestnik.local"
ADMIN_EMAIL = "admin@vestnik.local"  # the superuser: the blog's management pages (content managers')
LANGUAGES = ["ru-RU", "en-US"]

# WCAG 2.0/2.1 A and AA, plus axe's best practices (headings in order, landmarks, a skip link...).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FAILING_IMPACTS = {"critical", "serious"}
# Moderate or minor findings that stay, each with the reason. Anything else fails the test as well.
MODERATE_ACCEPTED: dict[str, str] = {}

RUN_AXE = """
async (tags) => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({
      target: n.target.join(' '),
      summary: (n.failureSummary || '').split('\\n').slice(0, 3).join(' '),
    })),
  }));
}
"""

WORLD = f"""
import json
from blog.models import Article
from mailings.models import Attempt, Mailing, Message, Recipient
from audience.models import List
from senders.models import SmtpAccount
from suppressions.services import suppression_add, suppression_lift
from suppressions.tokens import token_make
from users.models import User

demo = User.objects.get(email="{USER_EMAIL}")
sender, _ = SmtpAccount.objects.get_or_create(
    owner=demo, name="Магазин", defaults={{"host": "smtp.example.com", "port": 465, "from_email": "shop@example.com"}}
)
mailing = Mailing.objects.filter(owner=demo).order_by("pk").first()
attempt = Attempt.objects.filter(mailing__owner=demo, total_count__gt=0).order_by("-failed_count", "pk").first()
lifted = suppression_add(owner_id=demo.pk, email="lifted@example.com", source="one_click")
suppression_lift(suppression=lifted, how="owner_consent", statement="Подписался снова на выставке")
suppression = suppression_add(owner_id=demo.pk, email="gone@example.com", source="link", reason="Слишком часто")
print(json.dumps({{
    "suppression": suppression.pk,
    "token": token_make(owner_id=demo.pk, email="gone@example.com"),
    "fresh_token": token_make(owner_id=demo.pk, email="stays@example.com"),
    "user": demo.pk,
    "mailing": mailing.pk,
    "recipient": Recipient.objects.filter(owner=demo).order_by("pk").first().pk,
    "message": Message.objects.filter(owner=demo).order_by("pk").first().pk,
    "attempt": attempt.pk,
    "article": Article.objects.filter(is_published=True).order_by("pk").first().pk,
    "sender": sender.pk,
    "list": List.objects.get_or_create(owner=demo, name="Постоянные клиенты")[0].pk,
}}))
"""


def axe_unavailable() -> str:
    return "" if AXE_PATH.exists() else AXE_MISSING


@pytest.fixture(scope="module", autouse=True)
def axe_installed() -> None:
    reason = axe_unavailable()
    if reason and os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI runs them: `make test` installs it)")
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def world(site: LiveSite) -> dict[str, Any]:
    site.manage("seed_demo", "--with-mailings")
    return json.loads(site.manage("shell", "-c", WORLD).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def axe_browser(loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    """One Chromium for the module, driven through Playwright's async API (not the other modules' sync one)."""
    from playwright.async_api import async_playwright

    playwright = loop.run_until_complete(async_playwright().start())
    browser = loop.run_until_complete(launch_chromium(playwright))
    yield browser
    loop.run_until_complete(browser.close())
    loop.run_until_complete(playwright.stop())


@dataclass
class Finding:
    where: str
    rule: str
    impact: str
    help: str
    nodes: list[dict[str, str]]

    def __str__(self) -> str:
        targets = "; ".join(f"{n['target']} ({n['summary']})" for n in self.nodes[:5])
        more = f" and {len(self.nodes) - 5} more" if len(self.nodes) > 5 else ""
        return f"[{self.impact}] {self.rule} on {self.where}: {self.help}: {targets}{more}"


class Auditor:
    """One browser context (a role and a language); runs axe at both widths and keeps every finding."""

    def __init__(self, page: Any, site: LiveSite, label: str) -> None:
        self.page, self.site, self.label = page, site, label
        self.findings: list[Finding] = []
        self.checked = 0

    async def axe(self, what: str) -> None:
        if not await self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            await self.page.add_script_tag(path=str(AXE_PATH))
        for violation in await self.page.evaluate(RUN_AXE, AXE_TAGS):
            self.findings.append(
                Finding(
                    f"{what} ({self.label}, {self.page.viewport_size['width']} px)",
                    violation["id"],
                    violation["impact"] or "minor",
                    violation["help"],
                    violation["nodes"],
                )
            )
        self.checked += 1

    async def both_widths(self, what: str) -> None:
        """axe on the page as it is at desktop width, then narrowed to a phone's, then back."""
        await self.page.set_viewport_size(DESKTOP)
        await self.axe(what)
        await self.page.set_viewport_size(PHONE)
        await self.axe(what)
        await self.page.set_viewport_size(DESKTOP)

    async def goto(self, path: str, *, status: int = 200, viewport: dict[str, int] = DESKTOP) -> None:
        await self.page.set_viewport_size(viewport)
        response = await self.page.goto(self.site.url + path)
        assert response is not None and response.status == status, (
            f"{path} ({self.label}): {response and response.status}"
        )

    async def visit(self, path: str, *, status: int = 200) -> None:
        await self.goto(path, status=status)
        await self.both_widths(path)

    async def submit_empty(self, path: str, form: str = "main form[method=post]") -> None:
        """The form sent with its fields emptied: the page with the errors under the fields."""
        await self.goto(path)
        fields = self.page.locator(
            f"{form} input:not([type=hidden]):not([type=checkbox]):not([type=file]), {form} textarea"
        )
        for index in range(await fields.count()):
            await fields.nth(index).fill("")
        async with self.page.expect_navigation():
            await self.page.locator(form).first.locator("button[type=submit]").first.click()
        assert await self.page.locator(".invalid-feedback, .alert-danger").count(), f"{path}: the form shows no error"
        await self.both_widths(f"{path} with errors")

    async def phone_menu(self, path: str, toggle: str | None = None) -> None:
        """At a phone's width, the collapsed menu opened (and in it the dropdown `toggle`)."""
        await self.goto(path, viewport=PHONE)
        await self.page.locator(".navbar-toggler").click()
        await self.page.locator("#mainnav.show").wait_for()
        if toggle:
            await self.page.locator(toggle).click()
            await self.page.locator(f"{toggle} + .dropdown-menu.show").wait_for()
        await self.axe(f"{path} {toggle or ''}, phone menu open")

    async def menu(self, path: str, toggle: str) -> None:
        """A dropdown of the navigation bar opened, on a desktop and inside a phone's opened menu."""
        await self.goto(path)
        await self.page.locator(toggle).click()
        await self.page.locator(f"{toggle} + .dropdown-menu.show").wait_for()
        await self.axe(f"{path} {toggle}, menu open")
        await self.phone_menu(path, toggle)

    async def flash(self, path: str, form: str = "main form[method=post]") -> None:
        """The form sent as it is (a no-op save): the next page with its flash message."""
        await self.goto(path)
        async with self.page.expect_navigation():
            await self.page.locator(form).first.locator("button[type=submit]").first.click()
        await self.page.locator("main .alert[role=alert]").first.wait_for()
        await self.both_widths(f"{path} sent, flash message")


async def audited(
    browser: Any, site: LiveSite, language: str, email: str | None, pages: Callable[[Auditor], Awaitable[None]]
) -> Auditor:
    """A new context in `language`, signed in as `email` (unless None), through `pages`."""
    # bypass_csp: axe-core is injected as a script of the test's own; the site's Content-Security-Policy
    # (script-src 'self') rightly refuses it. Its own pages are held to the policy by tests/e2e/test_csp_and_csrf.py.
    context = await browser.new_context(locale=language, viewport=DESKTOP, device_scale_factor=1, bypass_csp=True)
    context.set_default_timeout(30_000)
    page = await context.new_page()
    try:
        if email:
            await page.goto(f"{site.url}/accounts/login/")
            await page.fill("#id_username", email)
            await page.fill("#id_password", PASSWORD)
            async with page.expect_navigation(url=f"{site.url}/"):
                await page.locator("main form").first.locator("button[type=submit]").click()
        audit = Auditor(page, site, f"{email or 'anonymous'}, {language}")
        await pages(audit)
        return audit
    finally:
        await context.close()


def audit_in_both_languages(
    loop: asyncio.AbstractEventLoop,
    browser: Any,
    site: LiveSite,
    email: str | None,
    pages: Callable[[Auditor], Awaitable[None]],
) -> None:
    """`pages` as `email` in Russian and in English at the same time; then the report."""

    async def everyone() -> list[Auditor]:
        return await asyncio.gather(*(audited(browser, site, language, email, pages) for language in LANGUAGES))

    report(*loop.run_until_complete(everyone()))


def report(*auditors: Auditor) -> None:
    """Print every finding; fail on the serious ones and on unexplained moderate ones."""
    findings = [finding for auditor in auditors for finding in auditor.findings]
    for finding in findings:
        print(finding)
    for auditor in auditors:
        print(
            f"axe-core: {auditor.checked} page states checked for {auditor.label}, {len(auditor.findings)} violations"
        )
    failing = [f for f in findings if f.impact in FAILING_IMPACTS or f.rule not in MODERATE_ACCEPTED]
    assert not failing, f"{len(failing)} accessibility violations:\n" + "\n".join(map(str, failing))


def test_a_visitors_pages_have_no_accessibility_violations(
    site: LiveSite, loop: asyncio.AbstractEventLoop, axe_browser: Any, world: dict[str, Any]
) -> None:
    async def pages(audit: Auditor) -> None:
        for path in [
            "/",
            "/accounts/login/",
            "/accounts/register/",
            "/accounts/register/done/",
            "/accounts/confirm-resend/",
            "/accounts/password/reset/",
            "/accounts/password/reset/done/",
            "/accounts/password/reset/complete/",
            "/accounts/password/reset/MQ/bad-token/",
            "/blog/",
            f"/blog/{world['article']}/",
            reverse("suppressions:unsubscribe", args=[world["token"]]),
            reverse("suppressions:unsubscribe", args=[world["fresh_token"]]),
        ]:
            await audit.visit(path)
        await audit.visit("/unsubscribe/forged-token/", status=404)
        await audit.visit("/accounts/confirm/bad-token/", status=400)
        await audit.visit("/no-such-page/", status=404)
        await audit.submit_empty("/accounts/login/")
        await audit.submit_empty("/accounts/register/")
        await audit.submit_empty("/accounts/password/reset/")
        await audit.phone_menu("/")

    audit_in_both_languages(loop, axe_browser, site, None, pages)


def test_a_users_pages_have_no_accessibility_violations(
    site: LiveSite, loop: asyncio.AbstractEventLoop, axe_browser: Any, world: dict[str, Any]
) -> None:
    mailing, recipient, message = world["mailing"], world["recipient"], world["message"]

    async def pages(audit: Auditor) -> None:
        for path in [
            "/",
            "/mailings/",
            "/mailings/new/",
            f"/mailings/{mailing}/",
            f"/mailings/{mailing}/edit/",
            f"/mailings/{mailing}/delete/",
            "/recipients/",
            "/recipients/?q=no-such-recipient",
            "/recipients/new/",
            f"/recipients/{recipient}/",
            f"/recipients/{recipient}/edit/",
            f"/recipients/{recipient}/delete/",
            "/messages/",
            "/messages/new/",
            f"/messages/{message}/",
            f"/messages/{message}/edit/",
            f"/messages/{message}/delete/",
            f"/messages/{message}/preview/",
            "/attempts/",
            "/attempts/?status=failure",
            f"/attempts/{world['attempt']}/",
            "/stats/",
            "/blog/",
            f"/blog/{world['article']}/",
            "/accounts/profile/",
            "/accounts/profile/edit/",
            "/accounts/password/change/",
            "/accounts/delete/",
            reverse("senders:smtp_account_list"),
            reverse("senders:smtp_account_create"),
            reverse("senders:smtp_account_detail", args=[world["sender"]]),
            reverse("senders:smtp_account_update", args=[world["sender"]]),
            reverse("senders:smtp_account_delete", args=[world["sender"]]),
            reverse("audience:list_index"),
            reverse("audience:list_create"),
            reverse("audience:list_detail", args=[world["list"]]),
            reverse("audience:list_update", args=[world["list"]]),
            reverse("audience:list_delete", args=[world["list"]]),
            reverse("audience:import_list"),
            reverse("audience:import_create"),
            reverse("suppressions:suppression_list"),
            reverse("suppressions:suppression_remove", args=[world["suppression"]]),
        ]:
            await audit.visit(path)
        await audit.submit_empty(reverse("suppressions:suppression_remove", args=[world["suppression"]]))
        await audit.visit("/blog/manage/", status=403)
        await audit.visit("/mailings/999999/", status=404)
        await audit.menu("/", "nav .nav-account")
        await audit.submit_empty("/recipients/new/")
        await audit.submit_empty("/mailings/new/")
        await audit.submit_empty("/messages/new/")
        await audit.submit_empty("/accounts/password/change/")
        await audit.flash("/accounts/profile/edit/")

    audit_in_both_languages(loop, axe_browser, site, USER_EMAIL, pages)


def test_a_managers_pages_have_no_accessibility_violations(
    site: LiveSite, loop: asyncio.AbstractEventLoop, axe_browser: Any, world: dict[str, Any]
) -> None:
    mailing, user = world["mailing"], world["user"]

    async def pages(audit: Auditor) -> None:
        for path in [
            "/",
            "/mailings/",
            f"/mailings/?owner={user}",
            f"/mailings/{mailing}/",
            f"/mailings/{mailing}/disable/",
            "/recipients/",
            f"/recipients/{world['recipient']}/",
            "/messages/",
            f"/messages/{world['message']}/",
            "/attempts/",
            f"/attempts/{world['attempt']}/",
            "/stats/",
            f"/stats/?owner={user}",
            "/accounts/users/",
            f"/accounts/users/{user}/block/",
            "/accounts/audit/",
            "/mail-dns/",
            "/accounts/profile/",
            reverse("senders:smtp_account_list"),
            reverse("senders:smtp_account_detail", args=[world["sender"]]),
            reverse("senders:smtp_account_disable", args=[world["sender"]]),
            reverse("audience:list_index"),
            reverse("audience:list_detail", args=[world["list"]]),
            reverse("audience:import_list"),
            reverse("suppressions:suppression_list"),
        ]:
            await audit.visit(path)
        await audit.menu("/", "nav .nav-account")
        await audit.menu("/", "#mainnav .nav-link.dropdown-toggle:not(.nav-account)")
        await audit.flash("/accounts/profile/edit/")

    audit_in_both_languages(loop, axe_browser, site, MANAGER_EMAIL, pages)


def test_a_content_managers_pages_have_no_accessibility_violations(
    site: LiveSite, loop: asyncio.AbstractEventLoop, axe_browser: Any, world: dict[str, Any]
) -> None:
    article = world["article"]

    async def pages(audit: Auditor) -> None:
        for path in ["/blog/manage/", "/blog/new/", f"/blog/{article}/edit/", f"/blog/{article}/delete/"]:
            await audit.visit(path)
        await audit.submit_empty("/blog/new/")

    audit_in_both_languages(loop, axe_browser, site, ADMIN_EMAIL, pages)
