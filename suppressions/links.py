"""The unsubscribe link and headers every mailing message carries (RFC 2369 List-Unsubscribe, RFC 8058 one-click).

Built in the worker, which has no request: absolute from SITE_URL. One token per message (tokens.py).
"""

from urllib.parse import quote

from django.conf import settings
from django.urls import reverse

from suppressions.tokens import token_make

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


def unsubscribe_links(*, owner_id: int, email: str, mailing_id: int | None = None) -> tuple[str, list[tuple[str, str]]]:
    """(the page's address for the body, the List-Unsubscribe headers) for one recipient of one mailing.

    The header's https address is the one-click endpoint (a mail client POSTs `List-Unsubscribe=One-Click`
    to it; a GET shows the page); the mailto: part is added only when UNSUBSCRIBE_MAILTO is set.
    """
    token = token_make(owner_id=owner_id, email=email, mailing_id=mailing_id)
    page = settings.SITE_URL + reverse("suppressions:unsubscribe", args=[token])
    one_click = settings.SITE_URL + reverse("suppressions:one_click", args=[token])
    targets = [f"<{one_click}>"]
    if settings.UNSUBSCRIBE_MAILTO:
        targets.append(f"<mailto:{settings.UNSUBSCRIBE_MAILTO}?subject={quote('unsubscribe ' + token)}>")
    headers = [("List-Unsubscribe", ", ".join(targets)), ("List-Unsubscribe-Post", ONE_CLICK_BODY)]
    return page, headers


def unsubscribe_page_url(*, owner_id: int, email: str, mailing_id: int | None = None) -> str:
    return unsubscribe_links(owner_id=owner_id, email=email, mailing_id=mailing_id)[0]
