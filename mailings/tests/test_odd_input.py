"""Whatever arrives in a URL, the pages answer; never a server error."""

import pytest
from django.test import Client
from django.urls import reverse

from users.models import User

pytestmark = pytest.mark.django_db

LISTS = [
    "mailings:mailing_list",
    "mailings:recipient_list",
    "mailings:message_list",
    "mailings:attempt_list",
    "mailings:stats",
]


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize(
    "query", [{"q": "²"}, {"q": "a\x00b"}, {"owner": "²"}, {"owner": "9" * 40}, {"q": "#" + "9" * 40}]
)
def test_list_pages_survive_odd_query_values(client: Client, manager: User, name: str, query: dict) -> None:
    client.force_login(manager)
    assert client.get(reverse(name), query).status_code == 200


def test_the_users_page_survives_a_nul_in_the_search(client: Client, manager: User) -> None:
    client.force_login(manager)
    assert client.get(reverse("users:user_list"), {"q": "a\x00b"}).status_code == 200


@pytest.mark.parametrize("name", ["mailings:mailing_detail", "mailings:attempt_detail", "mailings:recipient_detail"])
def test_an_id_too_large_for_the_database_is_not_found(client: Client, owner: User, name: str) -> None:
    client.force_login(owner)
    assert client.get(reverse(name, args=[10**25])).status_code == 404
