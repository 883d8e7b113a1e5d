"""Personal API tokens: the profile page (created once-shown, last use, revoke), hashing, blocking, scopes."""

from datetime import timedelta

import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken, token_hash
from api.tests.conftest import ApiClient, token_for
from moderation.services import user_block
from users.models import User


def test_the_profile_page_creates_a_token_and_shows_it_once(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    assert reverse("api_tokens:token_list") in client.get(reverse("users:profile")).content.decode()

    created = client.post(reverse("api_tokens:token_list"), {"name": "Магазин", "scope": "write"})
    shown = client.get(reverse("api_tokens:token_list"))
    again = client.get(reverse("api_tokens:token_list"))

    assert created.status_code == 302
    token = ApiToken.objects.get(owner=owner)
    secret = shown.context["secret"]
    assert secret and token_hash(secret) == token.token_hash and token.prefix == secret[:8]
    assert secret not in token.token_hash
    assert shown["Cache-Control"] == "no-store"
    assert secret in shown.content.decode()
    assert again.context["secret"] is None and secret not in again.content.decode()
    assert token.prefix in again.content.decode()
    assert ApiClient(secret).get("me").json()["token_name"] == "Магазин"


def test_a_revoked_token_stops_at_once(owner: User) -> None:
    secret = token_for(owner)
    token = ApiToken.objects.get(owner=owner)
    client = Client()
    client.force_login(owner)
    assert ApiClient(secret).get("me").status_code == 200

    client.post(reverse("api_tokens:token_revoke", kwargs={"pk": token.pk}))

    token.refresh_from_db()
    assert token.revoked_at is not None
    refused = ApiClient(secret).get("me")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Bearer"


def test_a_blocked_users_tokens_stop_at_once(owner: User, manager: User) -> None:
    secret = token_for(owner)
    assert ApiClient(secret).get("recipients").status_code == 200

    user_block(user=owner, actor=manager, reason="спам")

    assert ApiClient(secret).get("recipients").status_code == 401


def test_a_read_only_token_reads_and_gets_403_on_writes(read_api: ApiClient) -> None:
    assert read_api.get("recipients").status_code == 200
    refused = read_api.post("recipients", {"email": "a@example.com", "full_name": "А"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Токен только для чтения: изменять данные им нельзя."


def test_last_use_is_written_at_most_once_a_minute(owner: User) -> None:
    secret = token_for(owner)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        ApiClient(secret).get("me")
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        ApiClient(secret).get("me")
    assert ApiToken.objects.get(owner=owner).last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        ApiClient(secret).get("me")
    assert ApiToken.objects.get(owner=owner).last_used_at == start + timedelta(seconds=61)


def test_a_missing_or_malformed_header_is_401_with_a_problem(owner: User) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        response = Client().get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["title"] == "Нужен токен"
