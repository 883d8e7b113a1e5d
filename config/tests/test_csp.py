"""Every page is sent with the Content-Security-Policy, and no template relies on what it forbids."""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from users.models import User

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_pages_send_the_policy(client: Client, owner: User, signed_in: bool) -> None:
    if signed_in:
        client.force_login(owner)
    for url in [reverse("home"), reverse("users:login"), "/no-such-page/", reverse("mailings:mailing_list")]:
        policy = client.get(url)["Content-Security-Policy"]
        assert "default-src 'self'" in policy, url
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, url
        assert "frame-ancestors 'none'" in policy, url


def test_no_site_template_has_inline_script_style_or_event_handler() -> None:
    """Email templates are not pages (no policy applies to a mail reader); every other template is."""
    offending = []
    for path in ROOT.glob("*/templates/**/*.html"):
        offending += _inline(path)
    for path in (ROOT / "templates").rglob("*.html"):
        if "emails" not in path.parts:
            offending += _inline(path)
    assert offending == []


def _inline(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = []
    if re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", text):
        found.append(f"{path}: inline <script>")
    if re.search(r"<style\b|\sstyle=\"", text):
        found.append(f"{path}: inline style")
    if re.search(r"\son[a-z]+=\"", text):
        found.append(f"{path}: event-handler attribute")
    return found
