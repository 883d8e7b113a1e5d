"""`{% load reasons %}`: an attempt's reply summary in the reader's language (mailings/delivery/reasons.py)."""

from django import template

from mailings.delivery.run_finish import summary_text
from mailings.models import Attempt

register = template.Library()


@register.filter
def reply_summary(attempt: Attempt) -> str:
    """The grouped replies of a finished attempt; attempts made before summaries had entries show their text."""
    if attempt.summary is not None:
        return summary_text(attempt.summary)
    return attempt.server_response
