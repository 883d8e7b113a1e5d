"""The mailing calendar: when a mailing is next due (ARCHITECTURE.md, step 1)."""

from datetime import datetime

from mailings.models import Mailing


def mailing_initial_next_run(*, mailing: Mailing, now: datetime) -> datetime | None:
    """The first due time of a new (or rescheduled, never run) mailing.

    A window that is already open makes it due now; a future start makes it due
    at `start_at`; a window that has closed means it never runs.
    """
    if now >= mailing.end_at:
        return None
    if now < mailing.start_at:
        return mailing.start_at
    return now
