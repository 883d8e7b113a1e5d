"""WCAG 2.1 AA on every page: axe-core in a real browser, for every role, in both languages, on a desktop and a phone.

axe-core comes from npm (`package.json` / `package-lock.json` at the repository's root, installed by `make test`
with `npm ci`). Each page is loaded once per role and language; axe runs on it at 1280 px, then the same page is
narrowed to 375 px and axe runs again. Besides the plain pages the states that add markup are checked too: a form
with errors, a flash message, the account and management menus opened, the phone's collapsed menu opened.

Every violation found is printed (`-s` shows them on success too); the test fails on any critical or serious one,
and on a moderate or minor one that is not in MODERATE_ACCEPTED with the reason it stays.
"""

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.live import BASE_DIR, LiveSite

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
from users.models import User

demo = User.objects.get(email="{USER_EMAIL}")
mailing = Mailing.objects.filter(owner=demo).order_by("pk").first()
attempt = Attempt.objects.filter(mailing__owner=demo, total_count__gt=0).order_by("-failed_count", "pk").first()
print(json.dumps({{
    "user": demo.pk,
    "mailing": mailing.pk,
    "recipient": Recipient.objects.filter(owner=demo).order_by("pk").first().pk,
    "message": Message.objects.filter(owner=demo).order_by("pk").first().pk,
    "attempt": attempt.pk,
    "article": Article.objects.filter(is_published=True).order_by("pk").first().pk,
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
def world(site: LiveSite) -> dict[str, int]:
    site.manage("seed_demo")
    return json.loads(site.manage("shell", "-c", WORLD).strip().splitlines()[-1])


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

    def axe(self, what: str) -> None:
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(path=str(AXE_PATH))
        for violation in self.page.evaluate(RUN_AXE, AXE_TAGS):
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

    def both_widths(self, what: str, before_phone: Callable[[], None] | None = None) -> None:
        """axe on the page as it is at desktop width, then narrowed to a phone's, then back."""
        self.page.set_viewport_size(DESKTOP)
        self.axe(what)
        self.page.set_viewport_size(PHONE)
        if before_phone:
            before_phone()
        self.axe(what)
        self.page.set_viewport_size(DESKTOP)

    def visit(self, path: str, *, status: int = 200) -> None:
        self.page.set_viewport_size(DESKTOP)
        response = self.page.goto(self.site.url + path)
        assert response is not None and response.status == status, (
            f"{path} ({self.label}): {response and response.status}"
        )
        self.both_widths(path)

    def submit_empty(self, path: str, form: str = "main form[method=post]") -> None:
        """The form sent with its fields emptied: the page with the errors under the fields."""
        self.page.set_viewport_size(DESKTOP)
        self.page.goto(self.site.url + path)
        fields = self.page.locator(
            f"{form} input:not([type=hidden]):not([type=checkbox]):not([type=file]), {form} textarea"
        )
        for index in range(fields.count()):
            fields.nth(index).fill("")
        self.page.locator(form).first.locator("button[type=submit]").first.click()
        self.page.wait_for_load_state()
        assert self.page.locator(".invalid-feedback, .alert-danger").count(), f"{path}: the form shows no error"
        self.both_widths(f"{path} with errors")

    def menu(self, path: str, toggle: str) -> None:
        """A dropdown of the navigation bar opened (at a phone's width, inside the opened collapsed menu)."""
        what = f"{path} {toggle}"
        self.page.set_viewport_size(DESKTOP)
        self.page.goto(self.site.url + path)
        self.page.locator(toggle).click()
        self.page.locator(f"{toggle} + .dropdown-menu.show").wait_for()
        self.axe(f"{what}, menu open")
        self.page.set_viewport_size(PHONE)
        self.page.goto(self.site.url + path)
        self.page.locator(".navbar-toggler").click()
        self.page.locator("#mainnav.show").wait_for()
        self.page.locator(toggle).click()
        self.page.locator(f"{toggle} + .dropdown-menu.show").wait_for()
        self.axe(f"{what}, phone menu open")
        self.page.set_viewport_size(DESKTOP)

    def flash(self, path: str, form: str = "main form[method=post]") -> None:
        """The form sent as it is (a no-op save): the next page with its flash message."""
        self.page.set_viewport_size(DESKTOP)
        self.page.goto(self.site.url + path)
        self.page.locator(form).first.locator("button[type=submit]").first.click()
        self.page.locator("main .alert[role=alert]").first.wait_for()
        self.both_widths(f"{path} sent, flash message")


@contextmanager
def auditor(browser: Any, site: LiveSite, language: str, email: str | None) -> Iterator[Auditor]:
    context = browser.new_context(locale=language, viewport=DESKTOP, device_scale_factor=1)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        if email:
            page.goto(f"{site.url}/accounts/login/")
            page.fill("#id_username", email)
            page.fill("#id_password", PASSWORD)
            page.locator("main form").first.locator("button[type=submit]").click()
            page.wait_for_url(f"{site.url}/")
        yield Auditor(page, site, f"{email or 'anonymous'}, {language}")
    finally:
        context.close()


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


@pytest.mark.parametrize("language", LANGUAGES)
def test_anonymous_pages_have_no_accessibility_violations(
    site: LiveSite, e2e_browser: Any, world: dict[str, int], language: str
) -> None:
    with auditor(e2e_browser, site, language, None) as audit:
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
        ]:
            audit.visit(path)
        audit.visit("/accounts/confirm/bad-token/", status=400)
        audit.visit("/no-such-page/", status=404)
        audit.submit_empty("/accounts/login/")
        audit.submit_empty("/accounts/register/")
        audit.submit_empty("/accounts/password/reset/")
        audit.page.set_viewport_size(PHONE)
        audit.page.goto(site.url + "/")
        audit.page.locator(".navbar-toggler").click()
        audit.page.locator("#mainnav.show").wait_for()
        audit.axe("/, phone menu open")
    report(audit)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_users_pages_have_no_accessibility_violations(
    site: LiveSite, e2e_browser: Any, world: dict[str, int], language: str
) -> None:
    mailing, recipient, message = world["mailing"], world["recipient"], world["message"]
    with auditor(e2e_browser, site, language, USER_EMAIL) as audit:
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
        ]:
            audit.visit(path)
        audit.visit("/blog/manage/", status=403)
        audit.visit("/mailings/999999/", status=404)
        audit.menu("/", "nav .nav-account")
        audit.submit_empty("/recipients/new/")
        audit.submit_empty("/mailings/new/")
        audit.submit_empty("/messages/new/")
        audit.submit_empty("/accounts/password/change/")
        audit.flash("/accounts/profile/edit/")
    report(audit)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_managers_pages_have_no_accessibility_violations(
    site: LiveSite, e2e_browser: Any, world: dict[str, int], language: str
) -> None:
    mailing = world["mailing"]
    with auditor(e2e_browser, site, language, MANAGER_EMAIL) as manager:
        audit = manager
        for path in [
            "/",
            "/mailings/",
            f"/mailings/?owner={world['user']}",
            f"/mailings/{mailing}/",
            f"/mailings/{mailing}/disable/",
            "/recipients/",
            f"/recipients/{world['recipient']}/",
            "/messages/",
            f"/messages/{world['message']}/",
            "/attempts/",
            f"/attempts/{world['attempt']}/",
            "/stats/",
            f"/stats/?owner={world['user']}",
            "/accounts/users/",
            f"/accounts/users/{world['user']}/block/",
            "/accounts/audit/",
            "/accounts/profile/",
        ]:
            audit.visit(path)
        audit.menu("/", "nav .nav-account")
        audit.menu("/", "#mainnav .nav-link.dropdown-toggle:not(.nav-account)")
        audit.flash("/accounts/profile/edit/")
    with auditor(e2e_browser, site, language, ADMIN_EMAIL) as content:
        audit = content
        for path in [
            "/blog/manage/",
            "/blog/new/",
            f"/blog/{world['article']}/edit/",
            f"/blog/{world['article']}/delete/",
        ]:
            audit.visit(path)
        audit.submit_empty("/blog/new/")
    report(manager, content)
