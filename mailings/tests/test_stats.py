import pytest
from django.test import Client
from django.urls import reverse

from mailings.models import Attempt, Delivery
from mailings.tests.world import make_attempt, make_mailing, make_message
from users.models import User

pytestmark = pytest.mark.django_db

S, F, U, P = Delivery.State.SENT, Delivery.State.FAILED, Delivery.State.UNKNOWN, Delivery.State.PENDING


@pytest.fixture
def known_world(owner: User, other_user: User) -> dict[str, int]:
    first = make_mailing(owner, message=make_message(owner, "Первая"))
    second = make_mailing(owner, message=make_message(owner, "Вторая"))
    make_attempt(first, states=[S, S, S, F], status=Attempt.Status.SUCCESS)
    make_attempt(first, states=[S, F, F, U], status=Attempt.Status.FAILURE)
    make_attempt(first, states=[S, P], status=Attempt.Status.IN_PROGRESS)
    make_attempt(second, states=[S, S], status=Attempt.Status.SUCCESS)
    make_attempt(second, status=Attempt.Status.SKIPPED)
    make_mailing(owner, message=make_message(owner, "Без попыток"))
    foreign = make_mailing(other_user)
    make_attempt(foreign, states=[S] * 5, status=Attempt.Status.SUCCESS)
    make_attempt(foreign, states=[F] * 5, status=Attempt.Status.FAILURE)
    return {"first": first.pk, "second": second.pk}


def test_it_counts_the_owners_attempts_and_deliveries(client: Client, owner: User, known_world: dict) -> None:
    client.force_login(owner)
    response = client.get(reverse("mailings:stats"))
    assert response.status_code == 200
    assert response.context["totals"] == {
        "attempts_total": 5,
        "attempts_success": 2,
        "attempts_failure": 1,
        "attempts_in_progress": 1,
        "attempts_skipped": 1,
        "delivered": 7,
        "bounced": 0,
        "undelivered": 3,
    }
    totals = response.context["totals"]
    # The cards add up: every attempt is successful, failed, in progress or skipped.
    assert totals["attempts_total"] == sum(
        totals[k] for k in ("attempts_success", "attempts_failure", "attempts_in_progress", "attempts_skipped")
    )
    assert "выполняется: 1" in response.content.decode()
    rows = {m.pk: m for m in response.context["page"].object_list}
    assert len(rows) == 3
    first, second = rows[known_world["first"]], rows[known_world["second"]]
    assert (first.attempts_total, first.attempts_success, first.attempts_failure) == (3, 1, 1)
    assert (first.delivered, first.undelivered) == (5, 3)
    assert (second.attempts_total, second.attempts_success, second.attempts_failure) == (2, 1, 0)
    assert (second.delivered, second.undelivered) == (2, 0)


def test_it_agrees_with_the_attempts_page(client: Client, owner: User, known_world: dict) -> None:
    client.force_login(owner)
    totals = client.get(reverse("mailings:stats")).context["totals"]
    for status, key in [("success", "attempts_success"), ("failure", "attempts_failure")]:
        page = client.get(reverse("mailings:attempt_list"), {"status": status}).context["page"]
        assert page.paginator.count == totals[key]
    page = client.get(reverse("mailings:attempt_list"), {"mailing": known_world["first"]}).context["page"]
    assert page.paginator.count == 3


def test_a_new_user_sees_zeros_and_what_to_do(client: Client, other_user: User, owner: User) -> None:
    client.force_login(owner)
    response = client.get(reverse("mailings:stats"))
    assert set(response.context["totals"].values()) == {0}
    assert "Статистика появится после первой отправки" in response.content.decode()


def test_it_requires_login(client: Client) -> None:
    response = client.get(reverse("mailings:stats"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("users:login"))


def test_a_sent_then_bounced_delivery_is_not_delivered(client: Client, owner: User) -> None:
    mailing = make_mailing(owner)
    attempt = make_attempt(mailing, states=[Delivery.State.SENT] * 3)
    Delivery.objects.filter(pk=attempt.deliveries.order_by("pk")[0].pk).update(bounce=Delivery.Bounce.HARD)
    Delivery.objects.filter(pk=attempt.deliveries.order_by("pk")[1].pk).update(bounce=Delivery.Bounce.COMPLAINT)
    # What bounces/services.py keeps with each mark: the pages read the attempts' counters, not the deliveries.
    Attempt.objects.filter(pk=attempt.pk).update(bounced_count=1, complaint_count=1)
    client.force_login(owner)
    response = client.get(reverse("mailings:stats"))
    totals = response.context["totals"]
    assert (totals["delivered"], totals["bounced"]) == (2, 1)
    [row] = response.context["page"].object_list
    assert (row.delivered, row.bounced) == (2, 1)
    assert "возвратов: 1" in response.content.decode()
