"""The unsubscribe link and headers every mailing message carries (RFC 2369 List-Unsubscribe, RFC 8058 one-click).

Built in the worker, which has no request: absolute from SITE_URL. One token per message (tokens.py).
"""

from functools import lru_cache
from urllib.parse import quote

from django.conf import settings
from django.urls import reverse

from suppressions.tokens import token_make

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
_SLOT = "TOKEN"


@lru_cache(maxsize=8)
def _addresses(site_url: str) -> tuple[str, str]:
    """The page's and the one-click endpoint's address with a slot for the token: `reverse` once, not per message
    (it cost ten times the token itself)."""
    return (
        site_url + reverse("suppressions:unsubscribe", args=[_SLOT]),
        site_url + reverse("suppressions:one_click", args=[_SLOT]),
    )


def unsubscribe_links(*, owner_id: int, email: str, mailing_id: int | None = None) -> tuple[str, list[tuple[str, str]]]:
    """(the page's address for the body, the List-Unsubscribe headers) for one recipient of one mailing.

    The header's https address is the one-click endpoint (a mail client POSTs `List-Unsubscribe=One-Click`
    to it; a GET shows the page); the mailto: part is added only when UNSUBSCRIBE_MAILTO is set.
    """
    token = token_make(owner_id=owner_id, email=email, mailing_id=mailing_id)
    page_address, one_click_address = _addresses(settings.SITE_URL)
    page, one_click = page_address.replace(_SLOT, token, 1), one_click_address.replace(_SLOT, token, 1)
    targets = [f"<{one_click}>"]
    if settings.UNSUBSCRIBE_MAILTO:
        targets.append(f"<mailto:{settings.UNSUBSCRIBE_MAILTO}?subject={quote('unsubscribe ' + token)}>")
    headers = [("List-Unsubscribe", ", ".join(targets)), ("List-Unsubscribe-Post", ONE_CLICK_BODY)]
    return page, headers


def unsubscribe_page_url(*, owner_id: int, email: str, mailing_id: int | None = None) -> str:
    return unsubscribe_links(owner_id=owner_id, email=email, mailing_id=mailing_id)[0]
