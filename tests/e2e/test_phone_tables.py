"""Every table of records on a phone: a card per row, each value beside its column's name, nothing scrolls sideways.

The pages are the real ones (web process, demo data from `seed_demo`) plus a user whose values are as long as the
fields allow and have no spaces: an address, a subject, a comment, a server's reply, a block reason, an article's
title. At 375 px neither the page nor a table's container may be wider than the screen, and each cell shows its
label (the column's header, in the page's language). At 1280 px the tables keep their header row.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.e2e.live import LiveSite

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
PASSWORD = "vestnik-demo"  # seed_demo's
ADMIN_EMAIL = "admin@vestnik.local"  # seed_demo's superuser: sees every owner's lists and the managers' pages
MANAGER_EMAIL = "manager@vestnik.local"


def unbroken(word: str, length: int = 200) -> str:
    """`word` repeated up to `length` characters: nowhere to break a line."""
    return (word * length)[:length]


OWNER_EMAIL = f"{unbroken('vladelets', 64)}@{unbroken('pochta', 63)}.example.com"
BLOCKED_EMAIL = f"{unbroken('zablokirovan', 64)}@{unbroken('domen', 63)}.example.com"
RECIPIENT_EMAIL = f"{unbroken('poluchatel', 64)}@{unbroken('server', 63)}.example.com"

LONG_WORLD = f"""
import json
from datetime import timedelta
from django.utils import timezone
from blog.models import Article
from core.data_versions import data_version_bump_everyone
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from users.models import AuditEvent, User
from moderation.services import audit_event_record, user_block

now = timezone.now()
manager = User.objects.get(email="{MANAGER_EMAIL}")
owner = User.objects.create_user(
    email="{OWNER_EMAIL}", password="{PASSWORD}", first_name="{unbroken("Имя", 150)}", email_confirmed_at=now
)
recipient = Recipient.objects.create(
    owner=owner, email="{RECIPIENT_EMAIL}", full_name="{unbroken("Фамилия")}", comment="{unbroken("комментарий")}"
)
message = Message.objects.create(owner=owner, subject="{unbroken("Тема")}", body="{unbroken("текст")}")
mailing = Mailing.objects.create(
    owner=owner, message=message, start_at=now - timedelta(days=10), end_at=now - timedelta(days=1),
    periodicity=Mailing.Periodicity.ONCE, status=Mailing.Status.FINISHED,
)
mailing.recipients.set([recipient])
from audience.models import Import, List
recipient_list = List.objects.create(owner=owner, name="{unbroken("Список", 120)}")
recipient_list.members.add(recipient)
Import.objects.create(
    owner=owner, token="long", file_name="{unbroken("файл", 250)}.csv", file_format="csv", status="done",
    rows_total=100000, created_count=90000, invalid_count=5000, duplicate_count=5000,
)
attempt = Attempt.objects.create(
    mailing=mailing, trigger=Attempt.Trigger.MANUAL, started_at=now - timedelta(days=9),
    finished_at=now - timedelta(days=9), status=Attempt.Status.FAILURE, server_response="{unbroken("550-reply")}",
    note="{unbroken("примечание")}", total_count=1, failed_count=1,
)
Delivery.objects.create(
    attempt=attempt, recipient=recipient, email=recipient.email, full_name=recipient.full_name,
    state=Delivery.State.FAILED, tries=1, smtp_code=550, smtp_reply="{unbroken("550-5.1.1-unknown-")}",
    reason="{unbroken("причина", 255)}", finished_at=now - timedelta(days=9),
)
blocked = User.objects.create_user(email="{BLOCKED_EMAIL}", password="{PASSWORD}", email_confirmed_at=now)
user_block(user=blocked, actor=manager, reason="{unbroken("спам")}")
audit_event_record(
    actor=manager, action=AuditEvent.Action.MAILING_DISABLED, target_type=AuditEvent.TargetType.MAILING,
    target_id=mailing.pk, target_repr=str(mailing), target_user=owner, reason="{unbroken("жалоба")}",
)
Article.objects.create(
    title="{unbroken("Заголовок")}", body="{unbroken("статья")}", is_published=True, published_at=now
)
data_version_bump_everyone()
print(json.dumps({{"mailing": mailing.pk, "attempt": attempt.pk, "list": recipient_list.pk}}))
"""

# What a browser sees of the page and of each table: the widths, and for every table whether its header shows,
# and for every shown cell its label, the ::before text, the header of its column and whether it holds only buttons
# (a row's actions: no label, the buttons say what they do).
MEASURE = r"""
() => {
  const squeeze = element => element.textContent.replace(/\s+/g, '');
  // The first piece of text in a cell (an address, without a badge after it), and the lines it takes.
  const firstText = element => document.createTreeWalker(
    element,
    NodeFilter.SHOW_TEXT,
    {acceptNode: n => (n.textContent.trim() ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP)},
  ).nextNode();
  const lineCount = node => {
    if (!node) return 0;
    const range = document.createRange();
    range.selectNodeContents(node);
    return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.bottom))).size;
  };
  const root = document.documentElement;
  const boxes = [...document.querySelectorAll('main .table-responsive, main table')].map(el => ({
    what: el.tagName.toLowerCase() + '.' + [...el.classList].join('.'),
    scroll: el.scrollWidth, client: el.clientWidth,
  }));
  const tables = [...document.querySelectorAll('main table')].map(table => {
    const thead = table.querySelector('thead');
    const headers = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
    const cells = [];
    let hidden = 0;
    for (const row of table.querySelectorAll('tbody tr')) {
      [...row.children].forEach((td, column) => {
        if (td.getClientRects().length === 0) { hidden += 1; return; }  // hidden at this width (d-none d-lg-table-cell)
        const before = getComputedStyle(td, '::before');
        cells.push({
          header: headers[column] ?? null,
          label: td.dataset.label ?? null,
          buttonsOnly: squeeze(td) === [...td.querySelectorAll('.btn')].map(squeeze).join(''),
          before: before.content,
          beforeShown: before.display !== 'none' && before.visibility !== 'hidden',
          display: getComputedStyle(td).display,
          right: td.getBoundingClientRect().right,
          buttonsRight: Math.max(0, ...[...td.querySelectorAll('.btn')].map(b => b.getBoundingClientRect().right)),
          email: td.classList.contains('cell-email') && firstText(td) ? firstText(td).textContent.trim() : null,
          lines: lineCount(firstText(td)),
        });
      });
    }
    return {headerShown: !!thead && thead.getClientRects().length > 0, cells, hidden};
  });
  return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, boxes, tables};
}
"""


@pytest.fixture(scope="module")
def world(site: LiveSite) -> dict[str, int]:
    # The site runs with DEBUG off, where the demo superuser gets no published password unless given one.
    password_file = site.workdir / "admin_password"
    password_file.write_text(PASSWORD, encoding="utf-8")
    site.manage("seed_demo", "--with-mailings", "--admin-password-file", str(password_file))
    return json.loads(site.manage("shell", "-c", LONG_WORLD).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def pages(world: dict[str, int]) -> list[tuple[str, list[str]]]:
    """Who looks at which pages: the long-valued owner at its lists, the superuser at everyone's and the managers'."""
    owner_pages = [
        "/mailings/",
        f"/mailings/{world['mailing']}/",
        "/recipients/",
        "/messages/",
        "/attempts/",
        f"/attempts/{world['attempt']}/",
        "/stats/",
        "/lists/",
        f"/lists/{world['list']}/",
        "/imports/",
    ]
    return [
        (OWNER_EMAIL, owner_pages),
        (ADMIN_EMAIL, [*owner_pages, "/accounts/users/", "/accounts/audit/", "/blog/manage/"]),
    ]


@contextmanager
def signed_in(browser: Any, site: LiveSite, email: str, *, language: str, viewport: dict[str, int]) -> Iterator[Any]:
    context = browser.new_context(locale=language, viewport=viewport, device_scale_factor=1)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto(f"{site.url}/accounts/login/")
        page.fill("#id_username", email)
        page.fill("#id_password", PASSWORD)
        page.locator("main form").first.locator("button[type=submit]").click()
        page.wait_for_url(f"{site.url}/")
        yield page
    finally:
        context.close()


def every_page(
    browser: Any, site: LiveSite, pages: list[tuple[str, list[str]]], **look: Any
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, what the browser sees) for each page; fails at once if the page scrolls sideways or has no rows."""
    for email, paths in pages:
        with signed_in(browser, site, email, **look) as page:
            for path in paths:
                where = f"{path} as {email[:20]}… ({look['language']}, {look['viewport']['width']} px)"
                response = page.goto(site.url + path)
                assert response is not None and response.status == 200, f"{where}: {response and response.status}"
                seen = page.evaluate(MEASURE)
                assert seen["scrollWidth"] <= seen["innerWidth"], f"{where}: the page scrolls sideways: {seen}"
                assert seen["tables"] and all(t["cells"] for t in seen["tables"]), f"{where}: no rows to look at"
                yield where, seen


def shown_cells(seen: dict[str, Any]) -> list[dict[str, Any]]:
    return [cell for table in seen["tables"] for cell in table["cells"]]


@pytest.mark.parametrize("language", ["ru-RU", "en-US"])
def test_on_a_phone_every_list_stacks_its_rows_with_labels_and_nothing_scrolls_sideways(
    site: LiveSite, e2e_browser: Any, pages: list[tuple[str, list[str]]], language: str
) -> None:
    for where, seen in every_page(e2e_browser, site, pages, language=language, viewport=PHONE):
        too_wide = [box for box in seen["boxes"] if box["scroll"] > box["client"]]
        assert not too_wide, f"{where}: scrolls sideways inside {too_wide}"
        assert not any(table["headerShown"] for table in seen["tables"]), f"{where}: a header row is still shown"
        # A card has room for every column, including those a narrow table hides (d-none d-lg-table-cell).
        assert not any(table["hidden"] for table in seen["tables"]), f"{where}: a column is hidden on the phone"
        for cell in shown_cells(seen):
            assert cell["display"] in ("block", "flow-root"), f"{where}: a cell is not stacked: {cell}"
            assert cell["right"] <= PHONE["width"], f"{where}: a cell reaches past the screen: {cell}"
            if cell["label"]:
                assert cell["beforeShown"], f"{where}: a label is hidden: {cell}"
                assert cell["before"] == json.dumps(cell["label"], ensure_ascii=False), f"{where}: {cell}"
            else:
                assert cell["buttonsOnly"], f"{where}: a cell without a label: {cell}"


@pytest.mark.parametrize("language", ["ru-RU", "en-US"])
def test_on_a_desktop_the_tables_keep_their_header_and_each_label_is_its_columns_header(
    site: LiveSite, e2e_browser: Any, pages: list[tuple[str, list[str]]], language: str
) -> None:
    for where, seen in every_page(e2e_browser, site, pages, language=language, viewport=DESKTOP):
        assert all(table["headerShown"] for table in seen["tables"]), f"{where}: a table lost its header row"
        cells = shown_cells(seen)
        assert all(cell["display"] == "table-cell" for cell in cells), f"{where}: {cells}"
        assert all(cell["before"] in ("none", "normal") for cell in cells), f"{where}: a label beside a header"
        # A label is the column's header word for word; only a column of buttons goes without.
        mislabelled = [c for c in cells if (c["label"] or not c["buttonsOnly"]) and c["label"] != c["header"]]
        assert not mislabelled, f"{where}: {mislabelled}"
        # Long unbroken values wrap inside their cells: no table is wider than its box, every button is in view.
        assert all(box["scroll"] <= box["client"] + 1 for box in seen["boxes"]), f"{where}: {seen['boxes']}"
        off_screen = [c for c in cells if c["buttonsRight"] > seen["innerWidth"]]
        assert not off_screen, f"{where}: buttons out of view: {off_screen}"
        # An ordinary address is not wrapped mid-word (only the 130-character ones of this test wrap).
        wrapped = [c for c in cells if c["email"] and len(c["email"]) <= 32 and c["lines"] > 1]
        assert not wrapped, f"{where}: an address wraps: {wrapped}"
