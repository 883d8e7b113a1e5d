import pytest
from django.core.management import call_command
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from mailings.delivery.reasons import reason
from mailings.models import Attempt, Delivery, Mailing, Message, Recipient
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Recipient, Message, Mailing, Attempt, Delivery])
def test_the_admin_lists_searches_and_opens_every_model(client: Client, model: type[Model]) -> None:
    call_command("seed_demo", stdout=None)
    client.force_login(User.objects.get(email="admin@vestnik.local"))
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert client.get(changelist).status_code == 200
    assert client.get(changelist, {"q": "example"}).status_code == 200
    obj = model._default_manager.first()
    assert obj is not None
    assert client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])).status_code == 200


def test_the_admin_cannot_disable_a_mailing_around_the_audit_log(client: Client, owner: User) -> None:
    from mailings.tests.world import make_mailing

    admin_user = User.objects.create_superuser(email="root@example.com", password="x")
    client.force_login(admin_user)
    mailing = make_mailing(owner)
    page = client.get(reverse("admin:mailings_mailing_change", args=[mailing.pk])).content.decode()
    assert 'name="is_enabled"' not in page
    assert 'name="disabled_reason"' not in page


def test_the_admin_lists_smtp_accounts_and_closes_an_open_breaker(client: Client) -> None:
    from django.utils import timezone

    from mailings.delivery.breaker import breaker_open
    from mailings.models import SmtpAccountState

    breaker_open(
        account="smtp.example.com:465:news",
        reason=reason("connection_refused", error="connection refused"),
        now=timezone.now(),
    )
    client.force_login(User.objects.create_superuser(email="root@example.com", password="x"))
    changelist = reverse("admin:mailings_smtpaccountstate_changelist")
    assert "connection refused" in client.get(changelist).content.decode()
    state = SmtpAccountState.objects.get()

    response = client.post(changelist, {"action": "close_breaker", "_selected_action": [state.pk]})

    assert response.status_code == 302
    state.refresh_from_db()
    assert state.breaker_open_until is None
