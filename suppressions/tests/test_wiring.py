"""How the suppression list meets the other parts: the webhook of an unsubscribe, the consent kept when an entry is
lifted, and a confirmed subscription lifting the entry of its address."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from audience.models import List
from consents.models import ConsentRecord, Method, PendingSubscription
from consents.services import subscribe_confirm, subscribe_form_enable
from suppressions.models import Suppression, SuppressionLift
from suppressions.services import suppression_add
from users.models import User
from webhooks.models import WebhookEndpoint, WebhookMessage

pytestmark = pytest.mark.django_db


def test_an_unsubscribe_is_a_webhook_event_for_the_endpoints_that_chose_it(owner: User, other_user: User) -> None:
    chose = WebhookEndpoint.objects.create(
        owner=owner, url="https://shop.example.com/hooks", events=["recipient.unsubscribed"]
    )
    WebhookEndpoint.objects.create(owner=owner, url="https://shop.example.com/runs", events=["run.finished"])
    WebhookEndpoint.objects.create(
        owner=other_user, url="https://other.example.com/hooks", events=["recipient.unsubscribed"]
    )

    suppression_add(owner_id=owner.pk, email="Anna@Example.com", source=Suppression.Source.ONE_CLICK, reason="много")
    suppression_add(owner_id=owner.pk, email="anna@example.com", source=Suppression.Source.LINK)  # already there

    (message,) = WebhookMessage.objects.all()
    assert message.endpoint == chose and message.event == "recipient.unsubscribed"
    data = json.loads(message.body)["data"]
    assert (data["email"], data["source"], data["reason"]) == ("Anna@Example.com", "one_click", "много")


def test_lifting_an_entry_on_the_owners_statement_keeps_that_consent(client: Client, owner: User) -> None:
    entry = suppression_add(owner_id=owner.pk, email="boris@example.com", source=Suppression.Source.LINK)
    client.force_login(owner)
    statement = "Подписался снова на кассе магазина 20 ноября, бумажная анкета № 17"
    response = client.post(
        reverse("suppressions:suppression_remove", args=[entry.pk]), {"statement": statement, "confirm": "on"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not Suppression.objects.exists()
    record = ConsentRecord.objects.get(email="boris@example.com")
    assert (record.method, record.source_note, record.owner_id) == (Method.RESTORED, statement, owner.pk)
    assert SuppressionLift.objects.get().how == SuppressionLift.How.OWNER_CONSENT


def test_a_confirmed_subscription_lifts_the_entry_of_its_address(client: Client, owner: User) -> None:
    suppression_add(owner_id=owner.pk, email="olga@example.com", source=Suppression.Source.LINK)
    form = subscribe_form_enable(recipient_list=List.objects.create(owner=owner, name="Новости"))
    client.post(
        reverse("consents:subscribe", args=[form.token]),
        {"full_name": "Ольга", "email": "Olga@Example.com", "personal_data": "on", "advertising": "on"},
    )
    # Asking is not consenting: the entry stays until the address confirms.
    assert Suppression.objects.exists()

    subscribe_confirm(pending=PendingSubscription.objects.get())

    assert not Suppression.objects.exists()
    lift = SuppressionLift.objects.get()
    assert lift.how == SuppressionLift.How.RESUBSCRIBE and "Новости" in lift.statement
