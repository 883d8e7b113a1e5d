"""A run goes to the union of the chosen recipients and the members of the chosen lists, each address once."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audience.models import List
from mailings.delivery.manual_runs import SendRefused, attempt_retry_failed, mailing_send_now
from mailings.delivery.runs import attempt_start
from mailings.models import Attempt, Delivery, Mailing
from mailings.tests.world import make_mailing, make_recipient
from users.models import User

pytestmark = pytest.mark.django_db


def _open_mailing(owner: User, **extra: Any) -> Mailing:
    now = timezone.now()
    return make_mailing(owner, start_at=now - timedelta(hours=1), end_at=now + timedelta(days=1), **extra)


def test_the_snapshot_is_the_union_of_lists_and_chosen_recipients_each_once(owner: User, other_user: User) -> None:
    a, b, c, d = (make_recipient(owner, f"{name}@example.com") for name in "abcd")
    theirs = make_recipient(other_user, "theirs@example.com")
    regulars, new = List.objects.create(owner=owner, name="Постоянные"), List.objects.create(owner=owner, name="Новые")
    regulars.members.add(a, b)
    new.members.add(b, c)
    mailing = _open_mailing(owner, recipients=[a, d])
    mailing.lists.add(regulars, new)
    # Another owner's list never reaches this mailing, even if someone linked it.
    foreign = List.objects.create(owner=other_user, name="Чужой")
    foreign.members.add(theirs)

    attempt = attempt_start(mailing=mailing, trigger=Attempt.Trigger.MANUAL)

    emails = sorted(attempt.deliveries.values_list("email", flat=True))
    assert emails == ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
    assert attempt.total_count == 4


def test_all_recipients_takes_every_recipient_of_the_owner_at_run_time(owner: User, other_user: User) -> None:
    make_recipient(owner, "a@example.com")
    make_recipient(other_user, "theirs@example.com")
    mailing = _open_mailing(owner, all_recipients=True)
    make_recipient(owner, "later@example.com")  # added after the mailing was set up

    attempt = attempt_start(mailing=mailing, trigger=Attempt.Trigger.MANUAL)

    assert sorted(attempt.deliveries.values_list("email", flat=True)) == ["a@example.com", "later@example.com"]


def test_a_mailing_to_a_list_only_can_be_sent_now(owner: User) -> None:
    recipient = make_recipient(owner)
    clients = List.objects.create(owner=owner, name="Клиенты")
    clients.members.add(recipient)
    mailing = _open_mailing(owner)
    with pytest.raises(SendRefused):
        mailing_send_now(mailing=mailing)
    mailing.lists.add(clients)

    attempt = mailing_send_now(mailing=mailing)

    assert list(attempt.deliveries.values_list("recipient_id", flat=True)) == [recipient.pk]


def test_a_retry_includes_failed_list_members_still_in_the_audience(owner: User) -> None:
    kept, dropped = make_recipient(owner, "kept@example.com"), make_recipient(owner, "dropped@example.com")
    clients = List.objects.create(owner=owner, name="Клиенты")
    clients.members.add(kept, dropped)
    mailing = _open_mailing(owner)
    mailing.lists.add(clients)
    attempt = attempt_start(mailing=mailing, trigger=Attempt.Trigger.MANUAL)
    attempt.deliveries.update(state=Delivery.State.FAILED)
    Attempt.objects.filter(pk=attempt.pk).update(status=Attempt.Status.FAILURE, finished_at=timezone.now())
    attempt.refresh_from_db()
    clients.members.remove(dropped)

    retry = attempt_retry_failed(attempt=attempt)

    assert list(retry.deliveries.values_list("email", flat=True)) == ["kept@example.com"]


def test_recipient_emails_are_unique_per_owner_case_insensitively(owner: User) -> None:
    from django.db import IntegrityError, transaction

    make_recipient(owner, "Anna@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_recipient(owner, "anna@example.COM")


def test_the_mailing_page_shows_the_number_of_unique_addresses(owner: User) -> None:
    from django.test import Client
    from django.urls import reverse

    a, b = make_recipient(owner, "a@example.com"), make_recipient(owner, "b@example.com")
    clients = List.objects.create(owner=owner, name="Клиенты")
    clients.members.add(a, b)
    mailing = _open_mailing(owner, recipients=[a])
    mailing.lists.add(clients)
    client = Client()
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()
    assert '<dd class="col-sm-7" id="audience-size">2</dd>' in html
