from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from mailings.tests.world import make_attempt, make_mailing, make_message, make_recipient
from users.models import User

World = tuple[Message, list[Recipient]]

pytestmark = pytest.mark.django_db

LOCAL = "%Y-%m-%dT%H:%M"


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime(LOCAL)


def _form(
    message: Message, recipients: list[Recipient], start_at: datetime, end_at: datetime, periodicity: str = "daily"
) -> dict[str, Any]:
    return {
        "message": str(message.pk),
        "recipients": [str(r.pk) for r in recipients],
        "start_at": _local(start_at),
        "end_at": _local(end_at),
        "periodicity": periodicity,
    }


@pytest.fixture
def world(owner: User) -> World:
    return make_message(owner), [make_recipient(owner, "a@example.com"), make_recipient(owner, "b@example.com")]


def test_it_lists_only_the_owners_mailings_with_search(client: Client, owner: User, other_user: User) -> None:
    mine = make_mailing(owner, message=make_message(owner, "Весенняя распродажа"))
    make_mailing(owner, message=make_message(owner, "Осенний каталог"))
    make_mailing(other_user, message=make_message(other_user, "Чужая рассылка"))
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_list")).content.decode()
    assert "Весенняя распродажа" in html and "Осенний каталог" in html and "Чужая рассылка" not in html
    html = client.get(reverse("mailings:mailing_list"), {"q": "весенняя"}).content.decode()
    assert "Весенняя распродажа" in html and "Осенний каталог" not in html
    html = client.get(reverse("mailings:mailing_list"), {"q": f"#{mine.pk}"}).content.decode()
    assert "Весенняя распродажа" in html


def test_an_empty_list_tells_what_to_do(client: Client, owner: User) -> None:
    client.force_login(owner)
    assert "Создать первую рассылку" in client.get(reverse("mailings:mailing_list")).content.decode()


def test_it_requires_login(client: Client, owner: User) -> None:
    mailing = make_mailing(owner)
    for name, args in [
        ("mailing_list", []),
        ("mailing_create", []),
        ("mailing_detail", [mailing.pk]),
        ("mailing_update", [mailing.pk]),
        ("mailing_delete", [mailing.pk]),
    ]:
        response = client.get(reverse(f"mailings:{name}", args=args))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("users:login"))


def test_a_mailing_created_inside_its_window_is_due_now(client: Client, owner: User, world: World) -> None:
    message, recipients = world
    now = timezone.now()
    client.force_login(owner)
    response = client.post(
        reverse("mailings:mailing_create"),
        _form(message, recipients, now - timedelta(hours=1), now + timedelta(days=7)),
    )
    mailing = Mailing.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("mailings:mailing_detail", args=[mailing.pk])
    assert mailing.owner == owner
    assert mailing.message == message
    assert set(mailing.recipients.all()) == set(recipients)
    assert mailing.status == Mailing.Status.CREATED
    assert mailing.periodicity == Mailing.Periodicity.DAILY
    assert mailing.next_run_at is not None
    assert abs(mailing.next_run_at - timezone.now()) < timedelta(seconds=10)


def test_a_future_mailing_is_due_at_its_start(client: Client, owner: User, world: World) -> None:
    message, recipients = world
    start = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    client.force_login(owner)
    response = client.post(
        reverse("mailings:mailing_create"), _form(message, recipients, start, start + timedelta(days=7)), follow=True
    )
    mailing = Mailing.objects.get()
    assert mailing.next_run_at == start
    assert "создана" in response.content.decode()


def test_datetime_inputs_are_read_in_the_services_time_zone(client: Client, owner: User, world: World) -> None:
    assert settings.TIME_ZONE == "Europe/Moscow"
    message, recipients = world
    data = _form(message, recipients, timezone.now(), timezone.now())
    data.update(start_at="2031-03-01T12:00", end_at="2031-03-02T12:00")
    client.force_login(owner)
    client.post(reverse("mailings:mailing_create"), data)
    mailing = Mailing.objects.get()
    assert mailing.start_at == datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
    html = client.get(reverse("mailings:mailing_update", args=[mailing.pk])).content.decode()
    assert 'type="datetime-local"' in html
    assert 'value="2031-03-01T12:00"' in html


def test_it_rejects_an_end_before_the_start(client: Client, owner: User, world: World) -> None:
    message, recipients = world
    start = timezone.now() + timedelta(days=2)
    client.force_login(owner)
    response = client.post(
        reverse("mailings:mailing_create"), _form(message, recipients, start, start - timedelta(hours=1))
    )
    assert response.status_code == 200
    assert response.content.decode().count("Окончание рассылки должно быть позже её начала.") == 1
    assert not Mailing.objects.exists()


def test_it_rejects_a_year_out_of_range_with_a_message_not_an_error(client: Client, owner: User, world: World) -> None:
    message, recipients = world
    data = _form(message, recipients, timezone.now(), timezone.now())
    data.update(start_at="0001-01-01T00:00", end_at="9999-12-31T23:59")
    client.force_login(owner)
    response = client.post(reverse("mailings:mailing_create"), data)
    assert response.status_code == 200
    assert response.content.decode().count("Укажите год от 2000 до 2999.") == 2
    assert not Mailing.objects.exists()


def test_it_rejects_another_users_message(client: Client, owner: User, other_user: User, world: World) -> None:
    _, recipients = world
    foreign = make_message(other_user, "Чужое")
    start = timezone.now() + timedelta(days=1)
    client.force_login(owner)
    response = client.post(
        reverse("mailings:mailing_create"), _form(foreign, recipients, start, start + timedelta(days=1))
    )
    assert response.status_code == 200
    assert "Выберите корректный вариант" in response.content.decode()
    assert "Чужое" not in response.content.decode()
    assert not Mailing.objects.exists()


def test_it_rejects_another_users_recipient(client: Client, owner: User, other_user: User, world: World) -> None:
    message, recipients = world
    foreign = make_recipient(other_user, "theirs@example.com")
    start = timezone.now() + timedelta(days=1)
    client.force_login(owner)
    response = client.post(
        reverse("mailings:mailing_create"), _form(message, [*recipients, foreign], start, start + timedelta(days=1))
    )
    assert response.status_code == 200
    assert "Выберите получателей из списка." in response.content.decode()
    assert not Mailing.objects.exists()


def test_the_form_offers_only_the_owners_objects(client: Client, owner: User, other_user: User, world: World) -> None:
    make_message(other_user, "Чужое сообщение")
    make_recipient(other_user, "theirs@example.com")
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_create")).content.decode()
    assert "Новости недели" in html
    assert "Чужое сообщение" not in html and "theirs@example.com" not in html
    # Recipients are found with the picker (audience:picker), never listed in the page one by one.
    assert "a@example.com" not in html and 'id="picker-search"' in html


def test_the_message_choice_asks_for_one(client: Client, owner: User, world: World) -> None:
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_create")).content.decode()
    assert "— выберите сообщение —" in html and "---------" not in html


def test_it_shows_the_detail_with_attempts(client: Client, owner: User, manager: User, world: World) -> None:
    message, recipients = world
    mailing = make_mailing(
        owner,
        message=message,
        recipients=recipients,
        is_enabled=False,
        disabled_by=manager,
        disabled_at=timezone.now(),
        disabled_reason="Жалобы на спам",
    )
    attempt = make_attempt(mailing, states=[Delivery.State.SENT], server_response="250 2.0.0 Ok ×1")
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()
    assert "Рассылка отключена" in html and "Жалобы на спам" in html and manager.display_name in html
    assert "Раз в день" not in html  # the default periodicity is once
    assert "Однократно" in html
    assert "250 2.0.0 Ok ×1" in html
    assert reverse("mailings:attempt_detail", args=[attempt.pk]) in html
    assert f"{reverse('mailings:attempt_list')}?mailing={mailing.pk}" in html
    assert "a@example.com" in html


def test_editing_the_schedule_of_a_mailing_that_never_ran_reschedules_it(
    client: Client, owner: User, world: World
) -> None:
    message, recipients = world
    mailing = make_mailing(owner, message=message, recipients=recipients, next_run_at=timezone.now() + timedelta(1))
    new_start = (timezone.now() + timedelta(days=5)).replace(second=0, microsecond=0)
    other = make_message(owner, "Другое")
    client.force_login(owner)
    response = client.post(
        reverse("mailings:mailing_update", args=[mailing.pk]),
        # The edit form removes chosen recipients by id; it never re-sends the whole selection.
        {**_form(other, [], new_start, new_start + timedelta(days=3), "weekly"), "recipients_remove": recipients[1].pk},
        follow=True,
    )
    assert "сохранена" in response.content.decode()
    mailing.refresh_from_db()
    assert mailing.next_run_at == new_start
    assert mailing.message == other
    assert mailing.periodicity == Mailing.Periodicity.WEEKLY
    assert list(mailing.recipients.all()) == recipients[:1]


def test_editing_a_mailing_that_has_run_continues_its_calendar(client: Client, owner: User, world: World) -> None:
    message, recipients = world
    now = timezone.now()
    start = (now - timedelta(days=2)).replace(second=0, microsecond=0)
    mailing = make_mailing(
        owner,
        message=message,
        recipients=recipients,
        start_at=start,
        end_at=now + timedelta(days=10),
        periodicity=Mailing.Periodicity.DAILY,
        status=Mailing.Status.RUNNING,
        next_run_at=start + timedelta(days=3),
    )
    make_attempt(mailing, scheduled_for=start + timedelta(days=2))
    client.force_login(owner)
    client.post(
        reverse("mailings:mailing_update", args=[mailing.pk]), _form(message, recipients, start, now + timedelta(20))
    )
    mailing.refresh_from_db()
    assert mailing.next_run_at == start + timedelta(days=3)  # no repeat of today's run, no late run
    assert mailing.status == Mailing.Status.RUNNING

    client.post(reverse("mailings:mailing_update", args=[mailing.pk]), _form(message, recipients, start, now))
    mailing.refresh_from_db()
    assert mailing.next_run_at is None
    assert mailing.status == Mailing.Status.FINISHED


def test_editing_only_the_content_leaves_the_schedule_alone(client: Client, owner: User, world: World) -> None:
    message, recipients = world
    start = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    odd_next_run = start + timedelta(hours=5)
    mailing = make_mailing(
        owner, message=message, recipients=recipients, start_at=start, end_at=start + timedelta(days=3)
    )
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=odd_next_run)  # as the scheduler left it
    client.force_login(owner)
    data = _form(make_message(owner, "Новая тема"), recipients[:1], start, mailing.end_at, "once")
    client.post(reverse("mailings:mailing_update", args=[mailing.pk]), data)
    mailing.refresh_from_db()
    assert mailing.message.subject == "Новая тема"
    assert mailing.next_run_at == odd_next_run


def test_it_deletes_a_mailing_with_its_attempts_on_post_only(client: Client, owner: User, world: World) -> None:
    message, recipients = world
    mailing = make_mailing(owner, message=message, recipients=recipients)
    make_attempt(mailing, states=[Delivery.State.SENT])
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_delete", args=[mailing.pk])).content.decode()
    assert "Да, удалить" in html
    assert Mailing.objects.filter(pk=mailing.pk).exists()
    assert client.delete(reverse("mailings:mailing_delete", args=[mailing.pk])).status_code == 405
    response = client.post(reverse("mailings:mailing_delete", args=[mailing.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("mailings:mailing_list")
    assert "удалена" in response.content.decode()
    assert not Mailing.objects.exists()
    assert not Attempt.objects.exists()
    assert message.__class__.objects.filter(pk=message.pk).exists()


def test_it_refuses_other_users_mailing(client: Client, owner: User, other_user: User, world: World) -> None:
    message, recipients = world
    theirs = make_mailing(other_user)
    start = timezone.now() + timedelta(days=1)
    client.force_login(owner)
    assert client.get(reverse("mailings:mailing_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("mailings:mailing_update", args=[theirs.pk])).status_code == 404
    data = _form(message, recipients, start, start + timedelta(days=1))
    assert client.post(reverse("mailings:mailing_update", args=[theirs.pk]), data).status_code == 404
    assert client.get(reverse("mailings:mailing_delete", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("mailings:mailing_delete", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.message.owner == other_user


def test_it_refuses_a_mailing_whose_end_has_already_passed(client: Client, owner: User, world: World) -> None:
    message, recipients = world
    now = timezone.now()
    client.force_login(owner)
    response = client.post(
        reverse("mailings:mailing_create"),
        _form(message, recipients, now - timedelta(days=2), now - timedelta(hours=1), "once"),
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Окончание рассылки уже прошло: она не отправится ни разу." in page
    assert "отправится по расписанию" not in page
    assert not Mailing.objects.exists()


def test_a_mailing_without_runs_whose_end_passed_does_not_promise_one(
    client: Client, owner: User, world: World
) -> None:
    message, recipients = world
    now = timezone.now()
    mailing = make_mailing(
        owner,
        message=message,
        recipients=recipients,
        start_at=now - timedelta(days=9),
        end_at=now - timedelta(days=2),
        status=Mailing.Status.FINISHED,
        next_run_at=None,
    )
    client.force_login(owner)
    page = client.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()
    assert "отправится по расписанию" not in page
    assert "больше не запустится" in page
