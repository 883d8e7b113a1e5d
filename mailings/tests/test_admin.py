import pytest
from django.core.management import call_command
from django.db.models import Model
from django.test import Client
from django.urls import reverse

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
    obj = model.objects.first()
    assert client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])).status_code == 200
