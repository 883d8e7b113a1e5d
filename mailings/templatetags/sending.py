"""`{% sending_status mailing %}`: the delivery engine's notice on a mailing's page (pause, expected finish)."""

from typing import Any

from django import template

from mailings.delivery.status import mailing_sending_status
from mailings.models import Mailing

register = template.Library()


@register.inclusion_tag("mailings/_sending_status.html")
def sending_status(mailing: Mailing) -> dict[str, Any]:
    return {"status": mailing_sending_status(mailing=mailing), "mailing": mailing}
