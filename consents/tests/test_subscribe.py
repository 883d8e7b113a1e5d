"""The public subscribe form: double opt-in through a real SMTP server, honeypot, rate limits, no enumeration."""

import re
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audience.models import List
from consents.models import ConsentRecord, ConsentWording, Kind, Method, PendingSubscription, SubscribeForm
from consents.services import consent_wording_update, subscribe_form_enable
from mailings.models import Recipient
from tests.support import SmtpServer, run_tasks
from users.models import User
from users.tests.factories import link_in


def _form(**extra: str) -> dict[str, str]:
    data = {"full_name": "Ольга Иванова", "email": "Olga@Example.com", "personal_data": "on", "advertising": "on"}
    data.update(extra)
    return data


@pytest.fixture
def news(owner: User) -> List:
    return List.objects.create(owner=owner, name="Новости магазина")


@pytest.fixture
def form(news: List) -> SubscribeForm:
    return subscribe_form_enable(recipient_list=news)


def _url(form: SubscribeForm) -> str:
    return reverse("consents:subscribe", args=[form.token])


def test_the_page_shows_the_owner_the_list_and_both_current_texts(client: Client, form: SubscribeForm) -> None:
    owner = form.recipient_list.owner
    consent_wording_update(owner=owner, kind=Kind.ADVERTISING, text="Хочу получать скидки «Ромашки».")

    html = client.get(_url(form)).content.decode()

    assert "Новости магазина" in html and owner.first_name in html
    assert "Хочу получать скидки «Ромашки»." in html
    assert "152-ФЗ" in html  # the default personal-data text, version 1
    assert 'name="website"' in html and 'name="advertising_version" value="2"' in html


def test_a_blocked_owners_form_is_404(client: Client, form: SubscribeForm) -> None:
    User.objects.filter(pk=form.recipient_list.owner_id).update(is_active=False, blocked_at=timezone.now())
    assert client.get(_url(form)).status_code == 404
    assert client.post(_url(form), _form()).status_code == 404
    assert not PendingSubscription.objects.exists()


def test_a_disabled_or_unknown_form_is_404(client: Client, form: SubscribeForm) -> None:
    assert client.get(reverse("consents:subscribe", args=["no-such-form"])).status_code == 404
    form.enabled = False
    form.save()
    assert client.get(_url(form)).status_code == 404
    assert client.post(_url(form), _form()).status_code == 404


def test_it_subscribes_only_after_the_emailed_link_is_confirmed_with_a_post(
    client: Client, smtp_server: SmtpServer, transactional_db: None, owner: User
) -> None:
    news = List.objects.create(owner=owner, name="Новости магазина")
    form = subscribe_form_enable(recipient_list=news)

    response = client.post(_url(form), _form(), headers={"user-agent": "Firefox/140"}, REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 302
    assert response["Location"] == reverse("consents:subscribe_sent", args=[form.token])
    assert not Recipient.objects.exists() and not ConsentRecord.objects.exists()
    assert smtp_server.messages == []  # the request only queued the email
    run_tasks()
    [message] = smtp_server.messages
    assert message.rcpt_tos == ["Olga@Example.com"]
    assert "Подтвердите подписку" in message.subject and "Новости магазина" in message.subject
    path = link_in(message)
    assert path.startswith("/subscribe/confirm/")

    # Mail scanners open links: GET shows a button and changes nothing.
    page = client.get(path)
    assert page.status_code == 200 and "Подтвердить подписку" in page.content.decode()
    assert not Recipient.objects.exists()

    done = client.post(path)

    assert done.status_code == 200 and "подписан" in done.content.decode()
    recipient = Recipient.objects.get()
    assert (recipient.owner, recipient.email, recipient.full_name) == (owner, "Olga@Example.com", "Ольга Иванова")
    assert list(news.members.all()) == [recipient]
    records = {r.kind: r for r in ConsentRecord.objects.all()}
    assert set(records) == {Kind.ADVERTISING, Kind.PERSONAL_DATA}
    for kind, record in records.items():
        assert record.method == Method.FORM and record.recipient == recipient
        assert record.ip == "198.51.100.4" and record.user_agent == "Firefox/140"
        assert record.wording == ConsentWording.objects.get(owner=owner, kind=kind, version=1)
    # A second click confirms nothing twice.
    assert client.post(path).status_code == 200
    assert ConsentRecord.objects.count() == 2 and news.members.count() == 1


def test_the_evidence_points_to_the_version_the_snippet_showed(
    client: Client, form: SubscribeForm, django_capture_on_commit_callbacks: Any
) -> None:
    owner = form.recipient_list.owner
    consent_wording_update(owner=owner, kind=Kind.ADVERTISING, text="Новый текст, которого посетитель не видел.")

    client.post(_url(form), _form(advertising_version="1", personal_data_version="1"))

    pending = PendingSubscription.objects.get()
    assert pending.advertising_wording is not None and pending.advertising_wording.version == 1
    # A version the owner does not have: the current one.
    client.post(_url(form), _form(email="b@example.com", advertising_version="99"))
    other = PendingSubscription.objects.get(email="b@example.com").advertising_wording
    assert other is not None and other.version == 2


@pytest.mark.parametrize("missing", ["personal_data", "advertising", "email"])
def test_both_consents_and_the_address_are_required(client: Client, form: SubscribeForm, missing: str) -> None:
    data = _form()
    del data[missing]

    response = client.post(_url(form), data)

    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()
    assert not PendingSubscription.objects.exists()


def test_the_honeypot_gets_the_same_answer_and_nothing_is_kept_or_sent(
    client: Client, form: SubscribeForm, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(_url(form), _form(website="http://spam.example"))

    assert response.status_code == 302
    assert response["Location"] == reverse("consents:subscribe_sent", args=[form.token])
    assert not PendingSubscription.objects.exists() and callbacks == []


def test_an_address_gets_one_confirmation_email_per_period_whatever_form_asks(
    client: Client, form: SubscribeForm, owner: User, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    second = subscribe_form_enable(recipient_list=List.objects.create(owner=owner, name="Другой список"))
    start = timezone.now()
    with time_machine.travel(start, tick=False), django_capture_on_commit_callbacks() as callbacks:
        answers = [client.post(_url(f), _form()) for f in (form, form, second)]
    assert [a["Location"] for a in answers] == [
        reverse("consents:subscribe_sent", args=[f.token]) for f in (form, form, second)
    ]
    assert len(callbacks) == 1 and PendingSubscription.objects.count() == 1

    later = start.timestamp() + settings.SUBSCRIBE_RESEND_INTERVAL + 1
    with time_machine.travel(later, tick=False), django_capture_on_commit_callbacks() as callbacks:
        client.post(_url(form), _form())
    assert len(callbacks) == 1


def test_too_many_subscriptions_from_one_client_address_are_refused(
    client: Client, form: SubscribeForm, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SUBSCRIBE_PER_IP = 3
    answers = [
        client.post(_url(form), _form(email=f"v{i}@example.com"), REMOTE_ADDR="192.0.2.9").status_code for i in range(4)
    ]
    assert answers == [302, 302, 302, 429]
    assert PendingSubscription.objects.count() == 3
    # Another client address is not affected.
    assert client.post(_url(form), _form(email="w@example.com"), REMOTE_ADDR="192.0.2.10").status_code == 302


def test_an_address_already_subscribed_gets_exactly_the_same_answer(
    client: Client, form: SubscribeForm, django_capture_on_commit_callbacks: Any
) -> None:
    member = Recipient.objects.create(owner=form.recipient_list.owner, email="member@example.com", full_name="M")
    form.recipient_list.members.add(member)

    known = client.post(_url(form), _form(email="member@example.com"))
    unknown = client.post(_url(form), _form(email="stranger@example.com"))

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert _page(client, known["Location"]) == _page(client, unknown["Location"])


def _page(client: Client, url: str) -> str:
    """The page without what differs on every response (CSP nonces, CSRF tokens)."""
    html = client.get(url).content.decode()
    return re.sub(r'(nonce|value|content)="[^"]*"', "", html)


def test_a_forged_or_expired_link_is_refused(
    client: Client, form: SubscribeForm, settings: Any, smtp_server: SmtpServer, transactional_db: None
) -> None:
    assert client.get(reverse("consents:subscribe_confirm", args=["forged"])).status_code == 400
    client.post(_url(form), _form())
    run_tasks()
    path = link_in(smtp_server.messages[0])
    later = timezone.now().timestamp() + settings.SUBSCRIBE_CONFIRM_MAX_AGE + 60
    with time_machine.travel(later, tick=False):
        assert client.get(path).status_code == 400
        assert client.post(path).status_code == 400
    assert not Recipient.objects.exists()
    assert client.get(path[:-3] + "xyz/").status_code == 400


def test_confirming_an_address_the_owner_has_keeps_the_recipient_and_adds_it_to_the_list(
    client: Client, form: SubscribeForm, django_capture_on_commit_callbacks: Any
) -> None:
    from consents.services import subscribe_confirm

    known = Recipient.objects.create(owner=form.recipient_list.owner, email="olga@example.com", full_name="Ольга")
    client.post(_url(form), _form())
    pending = PendingSubscription.objects.get()

    result = subscribe_confirm(pending=pending)

    assert result.recipient == known and not result.created
    assert form.recipient_list.members.filter(pk=known.pk).exists()
    assert ConsentRecord.objects.filter(recipient=known).count() == 2
