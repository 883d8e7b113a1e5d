import re

import pytest
from django.test import Client
from django.urls import reverse

from mailings.delivery.counts import attempt_counts_recount
from mailings.models import Attempt, Delivery
from mailings.tests.world import make_attempt, make_mailing, make_message
from users.models import User

pytestmark = pytest.mark.django_db


def test_it_lists_the_owners_attempts_with_their_details(client: Client, owner: User, other_user: User) -> None:
    mailing = make_mailing(owner, message=make_message(owner, "Моя рассылка"))
    make_attempt(
        mailing,
        states=[Delivery.State.SENT] * 2 + [Delivery.State.FAILED],
        status=Attempt.Status.FAILURE,
        server_response="250 2.0.0 Ok ×2; 550 5.1.1 User unknown ×1",
        sent_count=2,
        failed_count=1,
    )
    make_attempt(make_mailing(other_user, message=make_message(other_user, "Чужая")), server_response="чужой ответ")
    client.force_login(owner)
    html = client.get(reverse("mailings:attempt_list")).content.decode()
    assert "Моя рассылка" in html
    assert "250 2.0.0 Ok ×2; 550 5.1.1 User unknown ×1" in html
    assert "Не успешно" in html and "Вручную" in html
    assert "Чужая" not in html and "чужой ответ" not in html


def test_it_filters_by_mailing_and_status(client: Client, owner: User) -> None:
    first, second = make_mailing(owner), make_mailing(owner)
    ok = make_attempt(first, status=Attempt.Status.SUCCESS, server_response="ответ-1")
    make_attempt(first, status=Attempt.Status.FAILURE, server_response="ответ-2")
    make_attempt(second, status=Attempt.Status.SUCCESS, server_response="ответ-3")
    client.force_login(owner)
    response = client.get(reverse("mailings:attempt_list"), {"mailing": str(first.pk), "status": "success"})
    assert list(response.context["page"].object_list) == [ok]
    response = client.get(reverse("mailings:attempt_list"), {"status": "success"})
    assert len(response.context["page"].object_list) == 2


def test_a_foreign_mailing_in_the_filter_shows_nothing(client: Client, owner: User, other_user: User) -> None:
    make_attempt(make_mailing(owner))
    theirs = make_mailing(other_user)
    make_attempt(theirs, server_response="чужой ответ")
    client.force_login(owner)
    response = client.get(reverse("mailings:attempt_list"), {"mailing": theirs.pk})
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    assert "Выберите корректный вариант" in response.content.decode()


def test_an_empty_list_tells_what_happens(client: Client, owner: User) -> None:
    client.force_login(owner)
    assert "Попыток пока нет" in client.get(reverse("mailings:attempt_list")).content.decode()


def test_the_attempt_page_lists_its_deliveries(client: Client, owner: User) -> None:
    attempt = make_attempt(make_mailing(owner), status=Attempt.Status.FAILURE)
    Delivery.objects.create(
        attempt=attempt,
        email="lost@example.com",
        state=Delivery.State.FAILED,
        tries=2,
        smtp_code=550,
        smtp_reply="550 5.1.1 <lost@example.com>: Recipient address rejected: User unknown",
        reason="permanent",
        reason_params={"stage": "RCPT"},
    )
    Delivery.objects.create(attempt=attempt, email="ok@example.com", state=Delivery.State.SENT, tries=1, smtp_code=250)
    attempt_counts_recount(attempt_id=attempt.pk)
    client.force_login(owner)
    html = client.get(reverse("mailings:attempt_detail", args=[attempt.pk])).content.decode()
    assert "lost@example.com" in html and "ok@example.com" in html
    # A 250 is «принято сервером» while a bounce may still come back (BOUNCE_LATE_DAYS).
    assert "Не доставлено" in html and "Принято сервером" in html
    assert "Recipient address rejected: User unknown" in html
    assert "постоянный отказ (RCPT)" in html
    assert "Не доставлено: 1" in html


def test_it_refuses_other_users_attempt(client: Client, owner: User, other_user: User) -> None:
    theirs = make_attempt(make_mailing(other_user), states=[Delivery.State.SENT])
    client.force_login(owner)
    assert client.get(reverse("mailings:attempt_detail", args=[theirs.pk])).status_code == 404


def test_it_requires_login(client: Client, owner: User) -> None:
    attempt = make_attempt(make_mailing(owner))
    for url in [reverse("mailings:attempt_list"), reverse("mailings:attempt_detail", args=[attempt.pk])]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("users:login"))


def test_reasons_written_by_the_worker_are_shown_in_the_readers_language(client: Client, owner: User) -> None:
    attempt = make_attempt(make_mailing(owner), states=[Delivery.State.SKIPPED], status=Attempt.Status.FAILURE)
    Delivery.objects.filter(attempt=attempt).update(reason="window_closed")
    client.force_login(owner)
    url = reverse("mailings:attempt_detail", args=[attempt.pk])
    assert "время рассылки истекло" in client.get(url).content.decode()
    client.cookies["django_language"] = "en"
    assert "the mailing period has ended" in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_four_counts_carry_their_words_on_every_screen(client: Client, owner: User) -> None:
    mailing = make_mailing(owner, message=make_message(owner, "Счёт"))
    make_attempt(mailing, states=[Delivery.State.SENT] * 7, sent_count=7, failed_count=3, unknown_count=1)
    client.force_login(owner)
    html = client.get(reverse("mailings:attempt_list")).content.decode()
    words = [
        ("7", "принято сервером"),
        ("0", "возвратов"),
        ("3", "не доставлено"),
        ("1", "неизвестно"),
        ("0", "пропущено"),
    ]
    for count, word in words:
        assert re.search(rf">{count}</span> {word}</span>", html), word
    assert "d-sm-none" not in html


def test_the_mailing_filter_lists_the_owners_mailings_and_marks_the_chosen_one(
    client: Client, owner: User, other_user: User
) -> None:
    """The filter's <select> (LongSelect in mailings/forms.py): the owner's mailings, escaped, the chosen one marked."""
    first = make_mailing(owner, message=make_message(owner, "Первая <b>жирная</b>"))
    second = make_mailing(owner, message=make_message(owner, "Вторая"))
    make_mailing(other_user, message=make_message(other_user, "Чужая"))
    client.force_login(owner)

    html = client.get(reverse("mailings:attempt_list"), {"mailing": second.pk}).content.decode()

    select = re.search(r'<select[^>]*name="mailing"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    assert 'id="id_mailing"' in select.group(0)
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select.group(1))
    assert [value for value, _sel, _label in options] == ["", str(second.pk), str(first.pk)]
    assert [value for value, sel, _label in options if sel] == [str(second.pk)]
    assert "Все рассылки" in options[0][2] and "Чужая" not in html
    assert "&lt;b&gt;жирная&lt;/b&gt;" in select.group(1) and "<b>жирная" not in html
