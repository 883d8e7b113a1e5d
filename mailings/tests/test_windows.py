"""Send windows on the owner's wall clock (mailings/delivery/windows.py): hours, weekdays, midnight and DST."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from mailings.delivery.windows import SendWindow, window_label

NSK = ZoneInfo("Asia/Novosibirsk")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


# 2026-11-23 is a Monday.
def office_hours(tz: ZoneInfo = NSK) -> SendWindow:
    return SendWindow(start=time(9), end=time(18), days="12345", tz=tz)


def test_a_weekday_window_is_open_in_office_hours_only() -> None:
    window = office_hours()
    assert window.is_open(at(NSK, 2026, 11, 23, 9))
    assert window.is_open(at(NSK, 2026, 11, 23, 17, 59))
    assert not window.is_open(at(NSK, 2026, 11, 23, 18))
    assert not window.is_open(at(NSK, 2026, 11, 23, 8, 59))
    assert window.closes_at(at(NSK, 2026, 11, 23, 12)) == at(NSK, 2026, 11, 23, 18)
    # 09:00 in Novosibirsk is 02:00 UTC: the owner's clock, not the service's.
    assert window.next_open(at(NSK, 2026, 11, 23, 20)) == datetime(2026, 11, 24, 2, tzinfo=UTC)


def test_a_weekday_window_skips_the_weekend() -> None:
    window = office_hours()
    friday_evening, saturday_noon = at(NSK, 2026, 11, 27, 18, 30), at(NSK, 2026, 11, 28, 12)
    assert not window.is_open(saturday_noon)
    assert window.next_open(friday_evening) == at(NSK, 2026, 11, 30, 9)
    assert window.next_open(saturday_noon) == at(NSK, 2026, 11, 30, 9)


def test_an_open_window_opens_now() -> None:
    moment = at(NSK, 2026, 11, 23, 10)
    assert office_hours().next_open(moment) == moment


def test_a_window_crossing_midnight_belongs_to_the_day_it_opens() -> None:
    # Opens Friday 22:00 only; closes Saturday 06:00.
    window = SendWindow(start=time(22), end=time(6), days="5", tz=NSK)
    assert window.crosses_midnight
    assert window.is_open(at(NSK, 2026, 11, 27, 23))
    assert window.is_open(at(NSK, 2026, 11, 28, 5, 59))
    assert window.closes_at(at(NSK, 2026, 11, 28, 1)) == at(NSK, 2026, 11, 28, 6)
    assert not window.is_open(at(NSK, 2026, 11, 28, 6))
    # Thursday night is not Friday's window, and Saturday night has none.
    assert not window.is_open(at(NSK, 2026, 11, 27, 1))
    assert not window.is_open(at(NSK, 2026, 11, 28, 23))
    assert window.next_open(at(NSK, 2026, 11, 28, 7)) == at(NSK, 2026, 12, 4, 22)


def test_a_nightly_window_every_day_is_open_across_midnight() -> None:
    window = SendWindow(start=time(20), end=time(2), days="1234567", tz=NSK)
    assert window.is_open(at(NSK, 2026, 11, 23, 23, 59)) and window.is_open(at(NSK, 2026, 11, 24, 0, 1))
    assert not window.is_open(at(NSK, 2026, 11, 24, 2))
    assert window.next_open(at(NSK, 2026, 11, 24, 3)) == at(NSK, 2026, 11, 24, 20)


def test_whole_days_without_hours() -> None:
    weekend = SendWindow(start=None, end=None, days="67", tz=NSK)
    assert not weekend.always_open
    assert weekend.is_open(at(NSK, 2026, 11, 28, 0)) and weekend.is_open(at(NSK, 2026, 11, 29, 23, 59))
    assert not weekend.is_open(at(NSK, 2026, 11, 30, 0))
    assert weekend.next_open(at(NSK, 2026, 11, 23, 12)) == at(NSK, 2026, 11, 28, 0)
    always = SendWindow(start=None, end=None, days="1234567", tz=NSK)
    assert (
        always.always_open
        and always.is_open(at(NSK, 2026, 11, 23, 3))
        and always.closes_at(at(NSK, 2026, 1, 1)) is None
    )


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK], ids=str)
def test_a_dst_change_keeps_the_window_on_the_wall_clock(tz: ZoneInfo) -> None:
    # The clocks change on these Sundays at 02:00 (Berlin 03:00 in autumn).
    spring, autumn = (
        (at(tz, 2026, 3, 29), at(tz, 2026, 10, 25)) if tz is BERLIN else (at(tz, 2026, 3, 8), at(tz, 2026, 11, 1))
    )
    window = SendWindow(start=time(9), end=time(18), days="1234567", tz=tz)
    for change, hours in ((spring, 23), (autumn, 25)):
        evening_before = change - timedelta(days=1) + timedelta(hours=20)
        before = window.next_open(evening_before - timedelta(days=1))
        after = window.next_open(evening_before)
        assert before.astimezone(tz).hour == 9 and after.astimezone(tz).hour == 9
        # An hour less (or more) of real time between the two 09:00s: the clock moved, the window with it.
        assert after - before == timedelta(hours=hours)
        # The window that day is as long as ever on the clock, and neither skipped nor doubled.
        assert window.closes_at(after) == after + timedelta(hours=9)
        assert [opens for opens, _closes in window.intervals(since=before) if opens <= after] == [before, after]


def test_a_window_opening_in_the_spring_gap_opens_once_an_hour_later() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29: the window opens at 03:30 CEST that day, and exactly once.
    window = SendWindow(start=time(2, 30), end=time(4), days="7", tz=BERLIN)
    opens = window.next_open(at(BERLIN, 2026, 3, 29, 0))
    assert opens == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert window.closes_at(opens) == datetime(2026, 3, 29, 2, tzinfo=UTC)
    assert window.next_open(datetime(2026, 3, 29, 2, tzinfo=UTC)) == at(BERLIN, 2026, 4, 5, 2, 30)


def test_the_expected_finish_counts_only_hours_inside_the_window() -> None:
    window = office_hours()
    # Friday 16:00 with 5 hours of sending: 2 on Friday, 3 on Monday morning.
    assert window.finish_after(start=at(NSK, 2026, 11, 27, 16), seconds=5 * 3600) == at(NSK, 2026, 11, 30, 12)
    # Starting at night: the sending begins when the window opens.
    assert window.finish_after(start=at(NSK, 2026, 11, 23, 3), seconds=60) == at(NSK, 2026, 11, 23, 9, 1)


def test_the_label_names_hours_and_days() -> None:
    with translation.override("ru"):
        assert window_label(start=time(9), end=time(18), days="12345") == "09:00–18:00, пн–пт"
        assert window_label(start=time(22), end=time(6), days="56") == "22:00–06:00, пт, сб"
        assert window_label(start=None, end=None, days="1234567") == "в любое время"
    with translation.override("en"):
        assert window_label(start=time(9), end=time(18), days="12345") == "09:00–18:00, Mon–Fri"
        assert window_label(start=None, end=None, days="67") == "around the clock, Sat, Sun"
