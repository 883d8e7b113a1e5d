"""`make screenshots`: PNGs of the main pages into docs/screenshots/, from the real processes.

Starts web + worker + scheduler (tests/e2e/live.py) on a scratch SQLite database filled by
`seed_demo`, signs in as demo@vestnik.local and manager@vestnik.local (password vestnik-demo)
in headless Chromium, and writes desktop-width shots plus one at phone width (375 px).
Needs Chromium (`apt-get install chromium`) and the development requirements.
"""

import re
import sys
import tempfile
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from tests.e2e.live import LiveSite, chromium_path, launch_chromium  # noqa: E402
from tests.support import SmtpServer  # noqa: E402

OUT_DIR = BASE_DIR / "docs" / "screenshots"
PASSWORD = "vestnik-demo"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}


def shoot(page: Any, name: str, *, full_page: bool = True) -> None:
    path = OUT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"  {path.relative_to(BASE_DIR)}")


def new_page(browser: Any, site: LiveSite, viewport: dict[str, int], email: str = "") -> Any:
    context = browser.new_context(locale="ru-RU", viewport=viewport, device_scale_factor=1)
    context.set_default_timeout(30_000)
    page = context.new_page()
    if email:
        page.goto(f"{site.url}/accounts/login/")
        page.fill("#id_username", email)
        page.fill("#id_password", PASSWORD)
        page.locator("main").get_by_role("button", name="Войти").click()
        page.wait_for_url(f"{site.url}/")
    return page


def take_all(browser: Any, site: LiveSite) -> None:
    anonymous = new_page(browser, site, DESKTOP)
    anonymous.goto(f"{site.url}/")
    shoot(anonymous, "home-anonymous")

    page = new_page(browser, site, DESKTOP, "demo@vestnik.local")
    shoot(page, "home")
    page.goto(f"{site.url}/mailings/")
    shoot(page, "mailings")
    page.locator("main table").get_by_role("link", name=re.compile("Новости недели")).first.click()
    mailing_url = page.url
    shoot(page, "mailing-detail")
    page.goto(f"{site.url}/attempts/")
    shoot(page, "attempts")
    failed = page.locator("main table tbody tr").filter(has_text="Не успешно").first
    failed.get_by_role("link", name="Подробно").click()
    shoot(page, "attempt-detail")
    page.goto(f"{site.url}/stats/")
    shoot(page, "stats")
    page.goto(f"{site.url}/recipients/")
    shoot(page, "recipients")
    page.goto(f"{site.url}/mailings/new/")
    page.locator("main").get_by_role("button", name="Сохранить").click()
    page.locator(".invalid-feedback").first.wait_for()
    shoot(page, "form-errors")

    manager = new_page(browser, site, DESKTOP, "manager@vestnik.local")
    manager.goto(f"{site.url}/accounts/users/")
    shoot(manager, "manager-users")

    phone = new_page(browser, site, PHONE, "demo@vestnik.local")
    phone.goto(mailing_url)
    shoot(phone, "phone-mailing-detail")


def main() -> int:
    if chromium_path() is None:
        print("Chromium is needed for screenshots: apt-get install chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    smtp = SmtpServer().start()
    with tempfile.TemporaryDirectory(prefix="vestnik-screenshots-") as scratch:
        site = LiveSite(Path(scratch), smtp_port=smtp.port)
        try:
            print("Preparing a scratch database with the demo data...")
            site.setup()
            # Mail goes to this script's own SMTP sink, so the demo mailings may be loaded.
            site.manage("seed_demo", "--with-mailings")
            site.start()
            print(f"Taking screenshots at {site.url}:")
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                take_all(browser, site)
                browser.close()
        finally:
            site.stop()
            smtp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
