"""`{% sending_status mailing [attempt] %}`: the delivery engine's notice on a mailing's or an attempt's page.

A pause, the progress of the runs in progress and the expected finish; while a run is in progress the block
refreshes itself (htmx polls the progress views in mailings/views/progress.py).
"""

from typing import Any

from django import template
from django.urls import reverse

from mailings.delivery.status import mailing_sending_status
from mailings.models import Attempt, Mailing

register = template.Library()


@register.inclusion_tag("mailings/_sending_status.html")
def sending_status(mailing: Mailing, attempt: Attempt | None = None) -> dict[str, Any]:
    if attempt is not None:
        url = reverse("mailings:attempt_progress", args=[attempt.pk])
    else:
        url = reverse("mailings:mailing_progress", args=[mailing.pk])
    return {"status": mailing_sending_status(mailing=mailing, attempt=attempt), "progress_url": url}
