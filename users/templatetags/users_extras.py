import math
from datetime import timedelta
from typing import TYPE_CHECKING

from django import template

from users.phones import phone_display

if TYPE_CHECKING:
    from users.models import User

register = template.Library()


@register.filter
def minutes(value: timedelta | None) -> int:
    """Whole minutes in a duration, rounded up (a lockout of 30 s still reads "1 min")."""
    if value is None:
        return 0
    return max(1, math.ceil(value.total_seconds() / 60))


@register.filter
def phone(user: "User") -> str:
    """The user's phone in the format of its country (national for their own country's numbers)."""
    # CountryField gives a Country object (typed as str by the field's stubs).
    return phone_display(user.phone, country=getattr(user.country, "code", "") or "")
