"""Idempotency-Key: a retried POST gets the first answer and never does the work twice."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from api.models import IdempotentRequest
from api.tests.conftest import ApiClient, token_for
from mailings.models import Attempt, Mailing, Message, Recipient
from users.models import User


def _sendable_mailing(owner: User) -> Mailing:
    message = Message.objects.create(owner=owner, subject="Тема", body="Текст")
    recipient = Recipient.objects.create(owner=owner, email="a@example.com", full_name="А")
    now = timezone.now()
    mailing = Mailing.objects.create(
        owner=owner, message=message, start_at=now - timedelta(hours=1), end_at=now + timedelta(days=1)
    )
    mailing.recipients.set([recipient])
    return mailing


def test_a_retried_send_returns_the_first_answer_and_starts_one_run(api: ApiClient, owner: User) -> None:
    mailing = _sendable_mailing(owner)

    first = api.post(f"mailings/{mailing.pk}/send", **{"Idempotency-Key": "send-1"})
    again = api.post(f"mailings/{mailing.pk}/send", **{"Idempotency-Key": "send-1"})

    assert first.status_code == 202
    assert again.status_code == 202
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Attempt.objects.filter(mailing=mailing).count() == 1


def test_a_retried_create_makes_one_object(api: ApiClient, owner: User) -> None:
    body = {"email": "anna@example.com", "full_name": "Анна"}
    first = api.post("recipients", body, **{"Idempotency-Key": "k"})
    again = api.post("recipients", body, **{"Idempotency-Key": "k"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert Recipient.objects.filter(owner=owner).count() == 1


def test_the_same_key_with_another_body_is_refused(api: ApiClient, owner: User) -> None:
    api.post("recipients", {"email": "anna@example.com", "full_name": "Анна"}, **{"Idempotency-Key": "k"})

    other = api.post("recipients", {"email": "boris@example.com", "full_name": "Борис"}, **{"Idempotency-Key": "k"})

    assert other.status_code == 422
    assert other["Content-Type"] == "application/problem+json"
    assert "Idempotency-Key" in other.json()["errors"]
    assert not Recipient.objects.filter(email="boris@example.com").exists()


def test_a_request_still_running_with_the_key_gets_409_and_nothing_is_done(api: ApiClient, owner: User) -> None:
    mailing = _sendable_mailing(owner)
    # What a concurrent first request leaves while it works: the claimed key without an answer yet.
    first = api.post(f"mailings/{mailing.pk}/send", **{"Idempotency-Key": "busy"})
    IdempotentRequest.objects.filter(key="busy").update(status_code=None)

    again = api.post(f"mailings/{mailing.pk}/send", **{"Idempotency-Key": "busy"})

    assert first.status_code == 202
    assert again.status_code == 409
    assert again["Retry-After"] == "1"
    assert Attempt.objects.filter(mailing=mailing).count() == 1


def test_keys_belong_to_their_user(owner: User, other_user: User) -> None:
    body = {"email": "anna@example.com", "full_name": "Анна"}
    mine = ApiClient(token_for(owner)).post("recipients", body, **{"Idempotency-Key": "k"})
    theirs = ApiClient(token_for(other_user)).post("recipients", body, **{"Idempotency-Key": "k"})

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


def test_an_expired_key_runs_the_request_again(api: ApiClient, owner: User, settings: object) -> None:
    body = {"email": "anna@example.com", "full_name": "Анна"}
    api.post("recipients", body, **{"Idempotency-Key": "k"})
    Recipient.objects.all().delete()

    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        again = api.post("recipients", body, **{"Idempotency-Key": "k"})

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert IdempotentRequest.objects.count() == 1


def test_a_refused_token_is_not_remembered(owner: User) -> None:
    response = ApiClient("not-a-token").post("recipients", {"email": "a@example.com"}, **{"Idempotency-Key": "k"})

    assert response.status_code == 401
    assert not IdempotentRequest.objects.exists()
