import math
from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def minutes(value: timedelta | None) -> int:
    """Whole minutes in a duration, rounded up (a lockout of 30 s still reads "1 min")."""
    if value is None:
        return 0
    return max(1, math.ceil(value.total_seconds() / 60))
