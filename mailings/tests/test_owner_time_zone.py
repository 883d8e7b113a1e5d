"""The owner's time zone: the calendar of their mailings, the mailing form's date-times and send window, the
pages on the viewer's clock (core.middleware.user_time_zone), the profile's choice."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mailings.delivery.schedule import mailings_start_due, next_occurrence
from mailings.models import Attempt, Mailing, Message, Recipient
from mailings.tests.world import make_mailing, make_message, make_recipient
from users.models import User

pytestmark = pytest.mark.django_db

NSK = ZoneInfo("Asia/Novosibirsk")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def set_zone(user: User, name: str) -> User:
    user.time_zone = name
    user.save(update_fields=["time_zone"])
    return user


# --- the calendar ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK], ids=str)
def test_a_daily_mailing_follows_its_owners_clock_across_dst(owner: User, tz: ZoneInfo) -> None:
    """A daily 09:00 run stays at 09:00 on the owner's clock; each day has exactly one run, none skipped or doubled."""
    owner = set_zone(owner, tz.key)
    start = datetime(2026, 3, 1, 9, tzinfo=tz)
    message = make_message(owner)
    mailing = Mailing.objects.create(
        owner=owner,
        message=message,
        start_at=start,
        end_at=datetime(2026, 12, 1, tzinfo=tz),
        periodicity=Mailing.Periodicity.DAILY,
        next_run_at=start,
    )
    mailing.recipients.set([make_recipient(owner, "a@example.com")])
    slot = start
    seen: list[datetime] = []
    # March (spring forward) and the autumn change, day by day, as the scheduler advances it.
    for _day in range(250):
        following = next_occurrence(
            start_at=mailing.start_at, end_at=mailing.end_at, periodicity="daily", after=slot, tz=owner.zone
        )
        assert following is not None
        seen.append(following)
        slot = following
    local = [s.astimezone(tz) for s in seen]
    assert {(s.hour, s.minute) for s in local} == {(9, 0)}
    days = [s.date() for s in local]
    assert days == [days[0] + timedelta(days=i) for i in range(len(days))]


def test_the_owners_zone_not_the_services_decides_the_wall_clock(owner: User, settings: Any) -> None:
    """The same instant anchors the calendar; on a DST day the owner's zone, not Moscow's, keeps the hour."""
    assert settings.TIME_ZONE == "Europe/Moscow"
    start = datetime(2026, 3, 27, 9, tzinfo=BERLIN)
    after_change = datetime(2026, 3, 29, 12, tzinfo=BERLIN)
    by_owner = next_occurrence(
        start_at=start, end_at=start + timedelta(days=30), periodicity="daily", after=after_change, tz=BERLIN
    )
    by_service = next_occurrence(
        start_at=start, end_at=start + timedelta(days=30), periodicity="daily", after=after_change
    )
    assert by_owner == datetime(2026, 3, 30, 9, tzinfo=BERLIN)
    # Moscow keeps no DST: on its calendar the run would drift to 10:00 in Berlin.
    assert by_service is not None and by_service.astimezone(BERLIN).hour == 10


def test_the_scheduler_starts_a_novosibirsk_owners_runs_on_their_clock(owner: User) -> None:
    owner = set_zone(owner, "Asia/Novosibirsk")
    start = datetime(2026, 11, 23, 9, tzinfo=NSK)
    message = Message.objects.create(owner=owner, subject="Новости", body="Текст")
    mailing = Mailing.objects.create(
        owner=owner,
        message=message,
        start_at=start,
        end_at=start + timedelta(days=10),
        periodicity=Mailing.Periodicity.DAILY,
        next_run_at=start,
    )
    mailing.recipients.set([Recipient.objects.create(owner=owner, email="a@example.com", full_name="А")])
    with time_machine.travel(start, tick=False):
        assert mailings_start_due(now=timezone.now()).started == 1
    mailing.refresh_from_db()
    assert mailing.next_run_at == datetime(2026, 11, 24, 9, tzinfo=NSK)
    assert Attempt.objects.get().scheduled_for == start


def test_changing_the_zone_moves_the_next_runs_onto_the_new_calendar(client: Client, owner: User) -> None:
    """Moscow has no DST, Berlin has: a daily 09:00-Moscow mailing, its owner moving to Berlin, keeps 07:00 Berlin
    (the same instant) and then stays at 07:00 Berlin across the spring change."""
    start = datetime(2026, 3, 20, 9, tzinfo=ZoneInfo("Europe/Moscow"))
    mailing = make_mailing(owner, start_at=start, end_at=start + timedelta(days=30))
    next_run = datetime(2026, 3, 30, 9, tzinfo=ZoneInfo("Europe/Moscow"))
    Mailing.objects.filter(pk=mailing.pk).update(periodicity=Mailing.Periodicity.DAILY, next_run_at=next_run)
    Attempt.objects.create(mailing=mailing, trigger=Attempt.Trigger.SCHEDULE, scheduled_for=start, status="success")
    client.force_login(owner)
    with time_machine.travel(datetime(2026, 3, 29, 12, tzinfo=UTC), tick=False):
        response = client.post(
            reverse("users:profile_edit"),
            {"first_name": "Иван", "time_zone": "Europe/Berlin", "send_window_shown": "1", "send_window_days": ["1"]},
        )
        assert response.status_code == 302
    mailing.refresh_from_db()
    assert mailing.next_run_at == datetime(2026, 3, 30, 7, tzinfo=BERLIN)


# --- pages and forms ------------------------------------------------------------------------------------------------


def _mailing_form(message: Message, recipient: Recipient, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "message": str(message.pk),
        "recipients": [str(recipient.pk)],
        "start_at": "2031-03-01T12:00",
        "end_at": "2031-03-02T12:00",
        "periodicity": "daily",
        "send_window_shown": "1",
        "send_window_days": list("12345"),
    }
    data.update(extra)
    return data


def test_the_mailing_form_reads_date_times_on_the_owners_clock(client: Client, owner: User) -> None:
    owner = set_zone(owner, "Asia/Novosibirsk")
    client.force_login(owner)
    message, recipient = make_message(owner), make_recipient(owner, "a@example.com")
    response = client.post(reverse("mailings:mailing_create"), _mailing_form(message, recipient))
    assert response.status_code == 302
    mailing = Mailing.objects.get()
    assert mailing.start_at == datetime(2031, 3, 1, 5, tzinfo=UTC)
    html = client.get(reverse("mailings:mailing_update", args=[mailing.pk])).content.decode()
    assert 'value="2031-03-01T12:00"' in html
    assert "Asia/Novosibirsk" in html


def test_a_new_mailing_starts_with_the_owners_default_window(client: Client, owner: User) -> None:
    User.objects.filter(pk=owner.pk).update(
        send_window_start="09:00", send_window_end="18:00", send_window_days="12345"
    )
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_create")).content.decode()
    assert 'name="send_window_start" value="09:00"' in html
    assert 'value="5" ' in html and 'name="send_window_days"' in html
    message, recipient = make_message(owner), make_recipient(owner, "a@example.com")
    client.post(
        reverse("mailings:mailing_create"),
        _mailing_form(message, recipient, send_window_start="22:00", send_window_end="06:00", send_window_days=["5"]),
    )
    mailing = Mailing.objects.get()
    assert (f"{mailing.send_window_start:%H:%M}", f"{mailing.send_window_end:%H:%M}", mailing.send_window_days) == (
        "22:00",
        "06:00",
        "5",
    )
    html = client.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()
    assert "22:00–06:00, пт" in html


def test_a_client_that_posts_no_window_keeps_the_mailings_window(client: Client, owner: User) -> None:
    mailing = make_mailing(owner)
    Mailing.objects.filter(pk=mailing.pk).update(send_window_start="09:00", send_window_end="18:00")
    client.force_login(owner)
    message, recipient = mailing.message, make_recipient(owner, "b@example.com")
    data = _mailing_form(message, recipient)
    del data["send_window_shown"], data["send_window_days"]
    assert client.post(reverse("mailings:mailing_update", args=[mailing.pk]), data).status_code == 302
    mailing.refresh_from_db()
    assert (f"{mailing.send_window_start:%H:%M}", mailing.send_window_days) == ("09:00", "1234567")


@pytest.mark.parametrize(
    ("language", "extra", "error"),
    [
        ("ru", {"send_window_days": []}, "Выберите хотя бы один день недели для отправки."),
        ("en", {"send_window_days": []}, "Choose at least one weekday to send on."),
        (
            "ru",
            {"send_window_start": "09:00", "send_window_end": "09:00"},
            "Начало и конец окна отправки совпадают",
        ),
        ("en", {"send_window_start": "09:00", "send_window_end": "09:00"}, "The send window starts and ends"),
        ("ru", {"send_window_start": "09:00"}, "Укажите и начало, и конец окна отправки"),
        ("en", {"send_window_end": "18:00"}, "Give both the start and the end of the send window"),
        ("ru", {"send_window_start": "25:00", "send_window_end": "18:00"}, "Введите правильное время."),
    ],
)
def test_a_bad_window_is_a_form_error(client: Client, owner: User, language: str, extra: Any, error: str) -> None:
    client.force_login(owner)
    message, recipient = make_message(owner), make_recipient(owner, "a@example.com")
    response = client.post(
        reverse("mailings:mailing_create"), _mailing_form(message, recipient, **extra), HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Mailing.objects.exists()


def test_pages_show_date_times_on_the_viewers_clock_and_name_the_owners_zone(
    client: Client, owner: User, manager: User
) -> None:
    owner = set_zone(owner, "Asia/Novosibirsk")
    start = datetime(2031, 3, 1, 12, tzinfo=NSK)
    mailing = make_mailing(owner, start_at=start, end_at=start + timedelta(days=1))
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()
    assert "01.03.2031 12:00" in html
    # The manager has the service's zone (Moscow): the same start is 08:00 there, and the page says whose zone rules.
    client.force_login(manager)
    html = client.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()
    assert "01.03.2031 08:00" in html
    assert "Asia/Novosibirsk (владельца; даты на этой странице — по вашему часовому поясу)" in html


def test_the_profile_offers_russian_zones_first_and_saves_the_choice(client: Client, owner: User) -> None:
    client.force_login(owner)
    html = client.get(reverse("users:profile_edit")).content.decode()
    assert html.index("Europe/Kaliningrad") < html.index("Asia/Kamchatka") < html.index("America/New_York")
    assert "Новосибирск — Asia/Novosibirsk (UTC+7)" in html
    response = client.post(
        reverse("users:profile_edit"),
        {
            "first_name": "Иван",
            "time_zone": "Asia/Novosibirsk",
            "send_window_shown": "1",
            "send_window_start": "09:00",
            "send_window_end": "18:00",
            "send_window_days": list("12345"),
        },
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.time_zone == "Asia/Novosibirsk" and owner.zone == NSK
    assert (f"{owner.send_window_start:%H:%M}", owner.send_window_days) == ("09:00", "12345")
    assert "Asia/Novosibirsk" in client.get(reverse("users:profile")).content.decode()


def test_the_profile_refuses_an_unknown_zone(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post(
        reverse("users:profile_edit"),
        {"first_name": "Иван", "time_zone": "Mars/Olympus", "send_window_shown": "1", "send_window_days": ["1"]},
    )
    assert response.status_code == 200
    assert "Выберите корректный вариант" in response.content.decode()
    owner.refresh_from_db()
    assert owner.time_zone == ""
