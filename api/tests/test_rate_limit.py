"""The per-token rate limit: 429 with Retry-After, counted per token in the shared cache."""

from datetime import timedelta
from typing import Any

import time_machine
from django.utils import timezone

from api.tests.conftest import ApiClient, token_for
from users.models import User


def test_it_answers_429_with_retry_after_past_the_limit_and_lets_the_next_window_in(
    owner: User, other_user: User, settings: Any
) -> None:
    settings.API_RATE_LIMIT, settings.API_RATE_WINDOW = 3, 60
    start = timezone.now().replace(second=5, microsecond=0)
    with time_machine.travel(start, tick=False):
        api = ApiClient(token_for(owner))
        answers = [api.get("me").status_code for _ in range(4)]
        refused = api.get("me")
        # Another token (here another user's) has its own count.
        theirs = ApiClient(token_for(other_user)).get("me")

    assert answers == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert refused["Retry-After"] == "55"
    assert refused.json()["status"] == 429
    assert theirs.status_code == 200
    with time_machine.travel(start + timedelta(seconds=60), tick=False):
        assert api.get("me").status_code == 200


def test_two_tokens_of_one_user_are_counted_apart(owner: User, settings: Any) -> None:
    settings.API_RATE_LIMIT = 1
    first, second = ApiClient(token_for(owner)), ApiClient(token_for(owner))

    assert [first.get("me").status_code, first.get("me").status_code] == [200, 429]
    assert second.get("me").status_code == 200
