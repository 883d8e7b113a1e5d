"""Send windows: the hours and weekdays, on the owner's wall clock, when a mailing's messages may leave.

A window is a start and an end time of day and a set of ISO weekdays (1 = Monday), in the owner's time zone
(`User.zone`). It opens on each chosen weekday at `start` and closes at the next `end`: when `end` is not
after `start` the window crosses midnight and closes the next day (22:00–06:00 chosen for Friday runs from
Friday 22:00 to Saturday 06:00). No start and no end: the whole of each chosen day; always open when every day
is chosen.

Every opening and closing is a wall-clock time turned into an instant on its own day, so a DST change moves
the window with the clock (09:00 stays 09:00) and only the day of the change is an hour longer or shorter.
A wall-clock time that does not exist (02:30 on a spring-forward day) resolves, with fold=0, one hour later;
an ambiguous one to its first occurrence — as the mailing calendar does (schedule.py).

Used by the engine (may a message go now, and until when), by the status of a run in progress (when it
resumes, when it should finish) and by the forms (the rules of a valid window).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from mailings.models import Mailing

ALL_DAYS = "1234567"
# ISO weekday numbers (1 = Monday), stored as a string of digits: "12345" is Monday to Friday.
WEEKDAY_CHOICES = [
    ("1", _("пн")),
    ("2", _("вт")),
    ("3", _("ср")),
    ("4", _("чт")),
    ("5", _("пт")),
    ("6", _("сб")),
    ("7", _("вс")),
]

# How far a search for the next opening looks: a window opens at least once a week.
_SEARCH_DAYS = 8


@dataclass(frozen=True)
class SendWindow:
    start: time | None
    end: time | None
    days: str
    tz: ZoneInfo

    @property
    def always_open(self) -> bool:
        # No weekday at all cannot be saved (forms, the mailing_send_window_valid constraint): read it as no window.
        return (self.start is None or self.end is None) and set(self.days) in (set(ALL_DAYS), set())

    @property
    def crosses_midnight(self) -> bool:
        return self.start is None or self.end is None or self.end <= self.start

    def _opening(self, day: date) -> tuple[datetime, datetime]:
        """The window that opens on `day` (which must be a chosen weekday), as UTC instants."""
        start, end = (self.start, self.end) if self.start is not None and self.end is not None else (time(), time())
        opens = datetime.combine(day, start.replace(tzinfo=None, fold=0), tzinfo=self.tz)
        close_day = day + timedelta(days=1) if self.crosses_midnight else day
        closes = datetime.combine(close_day, end.replace(tzinfo=None, fold=0), tzinfo=self.tz)
        return opens.astimezone(UTC), closes.astimezone(UTC)

    def intervals(self, *, since: datetime, days: int = _SEARCH_DAYS) -> Iterator[tuple[datetime, datetime]]:
        """The windows that are open at or after `since`, earliest first, opening within `days` days of it."""
        first = since.astimezone(self.tz).date() - timedelta(days=1)
        for offset in range(days + 2):
            day = first + timedelta(days=offset)
            if str(day.isoweekday()) not in self.days:
                continue
            opens, closes = self._opening(day)
            if closes > since and closes > opens:
                yield opens, closes

    def is_open(self, at: datetime) -> bool:
        return self.always_open or any(opens <= at for opens, _closes in self._current(at))

    def _current(self, at: datetime) -> Iterable[tuple[datetime, datetime]]:
        return (interval for interval in self.intervals(since=at, days=1) if interval[0] <= at)

    def closes_at(self, at: datetime) -> datetime | None:
        """When the window open at `at` closes (None: always open, or closed at `at`)."""
        if self.always_open:
            return None
        return max((closes for _opens, closes in self._current(at)), default=None)

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when the window is open then; otherwise when it opens next."""
        if self.is_open(at):
            return at
        return min(opens for opens, _closes in self.intervals(since=at))

    def finish_after(self, *, start: datetime, seconds: float) -> datetime:
        """When `seconds` of sending that may begin at `start` are done, counting only time inside the window."""
        if self.always_open:
            return start + timedelta(seconds=seconds)
        left = timedelta(seconds=max(0.0, seconds))
        at = self.next_open(start)
        # A year of windows is far more than any run needs; the loop ends long before.
        for _step in range(400):
            closes = self.closes_at(at)
            assert closes is not None
            if at + left <= closes:
                return at + left
            left -= closes - at
            at = self.next_open(closes)
        return at + left


def window_for_mailing(mailing: Mailing) -> SendWindow:
    """The send window of a mailing, in its owner's zone."""
    return SendWindow(
        start=mailing.send_window_start,
        end=mailing.send_window_end,
        days=mailing.send_window_days,
        tz=mailing.owner.zone,
    )


def days_label(days: str) -> str:
    """«пн–пт», «пн, ср, сб», «ежедневно»: the chosen weekdays in the current language, short."""
    from django.utils.translation import gettext

    if days == ALL_DAYS or not days:
        return gettext("ежедневно")
    numbers = sorted(int(d) for d in days)
    names = [str(WEEKDAY_CHOICES[n - 1][1]) for n in numbers]
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{names[0]}–{names[-1]}"
    return ", ".join(names)


def window_label(*, start: time | None, end: time | None, days: str) -> str:
    """«09:00–18:00, пн–пт», «круглосуточно, сб, вс» or «в любое время»: a window as the pages show it."""
    from django.utils.translation import gettext

    if start is None or end is None:
        if set(days) in (set(ALL_DAYS), set()):
            return gettext("в любое время")
        around_the_clock = gettext("круглосуточно")
        return f"{around_the_clock}, {days_label(days)}"
    return f"{start:%H:%M}–{end:%H:%M}, {days_label(days)}"
