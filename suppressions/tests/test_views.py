"""The public unsubscribe page, the one-click endpoint and the owner's «Отписки» page."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mailings.models import Attempt, Delivery
from mailings.tests.sending_support import make_run
from suppressions.models import Suppression, SuppressionLift
from suppressions.services import is_suppressed, suppression_add
from suppressions.tokens import token_make, token_read
from users.models import User

pytestmark = pytest.mark.django_db


def _url(name: str, token: str) -> str:
    return reverse(f"suppressions:{name}", args=[token])


@pytest.fixture
def token(owner: User) -> str:
    owner.sender_name = "Цветочная лавка"
    owner.save(update_fields=["sender_name"])
    return token_make(owner_id=owner.pk, email="Anna@example.com", mailing_id=7)


def test_a_token_says_nothing_about_the_address_and_reads_back(owner: User) -> None:
    made = token_make(owner_id=owner.pk, email="anna@example.com")
    assert "anna" not in made.lower() and "example" not in made.lower()
    assert token_make(owner_id=owner.pk, email="anna@example.com") != made  # a fresh nonce each time
    data = token_read(made)
    assert data is not None and (data.owner_id, data.email, data.mailing_id) == (owner.pk, "anna@example.com", None)


def test_the_page_shows_who_from_whom_and_a_get_changes_nothing(client: Client, owner: User, token: str) -> None:
    response = client.get(_url("unsubscribe", token))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Anna@example.com" in page and "Цветочная лавка" in page and "Отписаться" in page
    assert not Suppression.objects.exists()


def test_a_post_unsubscribes_at_once_with_the_reason(client: Client, owner: User, token: str) -> None:
    response = client.post(_url("unsubscribe", token), {"action": "unsubscribe", "reason": "слишком часто"})
    assert response.status_code == 302
    entry = Suppression.objects.get()
    assert (entry.owner_id, entry.email, entry.source, entry.reason) == (
        owner.pk,
        "Anna@example.com",
        "link",
        "слишком часто",
    )
    page = client.get(_url("unsubscribe", token)).content.decode()
    assert "вы отписаны" in page and "Подписаться снова" in page


def test_subscribe_again_undoes_a_mistake_and_keeps_a_record(client: Client, owner: User, token: str) -> None:
    client.post(_url("unsubscribe", token), {"action": "unsubscribe"})
    response = client.post(_url("unsubscribe", token), {"action": "resubscribe"})
    assert response.status_code == 302
    assert not is_suppressed(owner.pk, "anna@example.com")
    lift = SuppressionLift.objects.get()
    assert (lift.how, lift.email) == (SuppressionLift.How.RESUBSCRIBE, "Anna@example.com")


def test_a_bounce_suppression_cannot_be_undone_from_the_link(client: Client, owner: User, token: str) -> None:
    suppression_add(owner_id=owner.pk, email="anna@example.com", source=Suppression.Source.BOUNCE_HARD)
    assert "Подписаться снова" not in client.get(_url("unsubscribe", token)).content.decode()
    client.post(_url("unsubscribe", token), {"action": "resubscribe"})
    assert is_suppressed(owner.pk, "anna@example.com")


def test_one_click_is_a_plain_post_without_cookies_or_csrf_token(owner: User, token: str) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        _url("one_click", token), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert Suppression.objects.get().source == Suppression.Source.ONE_CLICK
    # Sent twice (a client retrying): still one entry, still 200.
    again = client.post(_url("one_click", token), {"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and Suppression.objects.count() == 1


def test_the_page_itself_still_needs_the_csrf_token(owner: User, token: str) -> None:
    response = Client(enforce_csrf_checks=True).post(_url("unsubscribe", token), {"action": "unsubscribe"})
    assert response.status_code == 403
    assert not Suppression.objects.exists()


def test_one_click_without_its_body_changes_nothing(client: Client, owner: User, token: str) -> None:
    assert client.post(_url("one_click", token), {}).status_code == 400
    assert client.get(_url("one_click", token)).status_code == 302
    assert not Suppression.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_or_altered_token_is_refused_revealing_nothing(
    client: Client, owner: User, token: str, method: str
) -> None:
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in [altered, "not-a-token", token[:20]]:
        for name in ["unsubscribe", "one_click"]:
            if method == "get" and name == "one_click":
                continue
            call = client.get if method == "get" else client.post
            response = call(_url(name, bad), {"List-Unsubscribe": "One-Click"})
            page = response.content.decode()
            assert response.status_code == 404, (name, bad)
            assert "Ссылка недействительна" in page and "Цветочная лавка" not in page and "Anna" not in page
    assert not Suppression.objects.exists()


def test_it_works_after_the_owner_deleted_the_recipient(
    client: Client, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    mailing, attempt = make_run(owner, ["anna@example.com"])
    mailing.recipients.all().delete()
    token = token_make(owner_id=owner.pk, email="anna@example.com", mailing_id=mailing.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(_url("unsubscribe", token), {"action": "unsubscribe"}).status_code == 302
    assert is_suppressed(owner.pk, "anna@example.com")
    assert Delivery.objects.get(attempt=attempt).state == Delivery.State.SKIPPED
    assert Attempt.objects.get(pk=attempt.pk).is_final


def test_the_page_speaks_english_after_the_language_switch(client: Client, owner: User, token: str) -> None:
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(_url("unsubscribe", token)).content.decode()
    assert "Unsubscribe" in page and "Отписаться" not in page


# --- the owner's «Отписки» ---------------------------------------------------------------------------


def test_the_owner_sees_only_their_list_and_can_search(client: Client, owner: User, other_user: User) -> None:
    suppression_add(owner_id=owner.pk, email="anna@example.com", source="one_click")
    suppression_add(owner_id=owner.pk, email="boris@example.com", source="link", reason="не интересно")
    suppression_add(owner_id=other_user.pk, email="theirs@example.com", source="link")
    client.force_login(owner)
    page = client.get(reverse("suppressions:suppression_list")).content.decode()
    assert "anna@example.com" in page and "boris@example.com" in page and "theirs@example.com" not in page
    assert "отписка в один клик" in page and "не интересно" in page
    found = client.get(reverse("suppressions:suppression_list"), {"q": "BORIS"}).content.decode()
    assert "boris@example.com" in found and "anna@example.com" not in found


def test_a_manager_sees_everyones_read_only(client: Client, owner: User, manager: User) -> None:
    entry = suppression_add(owner_id=owner.pk, email="anna@example.com", source="link")
    client.force_login(manager)
    page = client.get(reverse("suppressions:suppression_list")).content.decode()
    assert "anna@example.com" in page and "owner@example.com" in page
    assert reverse("suppressions:suppression_remove", args=[entry.pk]) not in page
    assert client.post(reverse("suppressions:suppression_remove", args=[entry.pk]), {}).status_code == 403
    assert is_suppressed(owner.pk, "anna@example.com")


def test_removing_needs_a_stated_consent_and_confirmation(client: Client, owner: User) -> None:
    entry = suppression_add(owner_id=owner.pk, email="anna@example.com", source="link")
    client.force_login(owner)
    url = reverse("suppressions:suppression_remove", args=[entry.pk])
    refused = client.post(url, {"statement": "Подписалась снова на выставке"})
    assert refused.status_code == 200 and is_suppressed(owner.pk, "anna@example.com")
    assert client.post(url, {"statement": "да", "confirm": "on"}).status_code == 200  # too short to be a statement

    response = client.post(url, {"statement": "Подписалась снова на выставке 12.03", "confirm": "on"})

    assert response.status_code == 302
    assert not is_suppressed(owner.pk, "anna@example.com")
    lift = SuppressionLift.objects.get()
    assert (lift.how, lift.statement, lift.lifted_by) == ("owner_consent", "Подписалась снова на выставке 12.03", owner)
    assert (
        "Подписалась снова на выставке 12.03" in client.get(reverse("suppressions:suppression_list")).content.decode()
    )


def test_another_owners_entry_is_not_found(client: Client, owner: User, other_user: User) -> None:
    entry = suppression_add(owner_id=other_user.pk, email="anna@example.com", source="link")
    client.force_login(owner)
    url = reverse("suppressions:suppression_remove", args=[entry.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"statement": "Подписалась снова на выставке", "confirm": "on"}).status_code == 404
    assert is_suppressed(other_user.pk, "anna@example.com")


def test_the_recipient_pages_show_the_badge(client: Client, owner: User) -> None:
    mailing, _attempt = make_run(owner, ["anna@example.com", "boris@example.com"])
    suppression_add(owner_id=owner.pk, email="ANNA@example.com", source="link")
    client.force_login(owner)
    page = client.get(reverse("mailings:recipient_list")).content.decode()
    assert page.count("отписался") == 1
    anna = mailing.recipients.get(email="anna@example.com")
    assert "отписался" in client.get(reverse("mailings:recipient_detail", args=[anna.pk])).content.decode()
