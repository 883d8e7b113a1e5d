from django.test import Client
from django.urls import reverse

from users.models import User

URL = reverse("users:password_change")


def test_it_requires_login(client: Client, db: None) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("users:login"))


def test_it_changes_the_password_and_keeps_the_session(client: Client, owner: User, password: str) -> None:
    client.force_login(owner)
    assert client.get(URL).status_code == 200
    response = client.post(
        URL,
        {"old_password": password, "new_password1": "another-Long-phrase-5", "new_password2": "another-Long-phrase-5"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("users:profile")
    owner.refresh_from_db()
    assert owner.check_password("another-Long-phrase-5")
    assert client.get(reverse("users:profile")).status_code == 200


def test_it_needs_the_current_password(client: Client, owner: User, password: str) -> None:
    client.force_login(owner)
    response = client.post(
        URL,
        {"old_password": "wrong", "new_password1": "another-Long-phrase-5", "new_password2": "another-Long-phrase-5"},
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    owner.refresh_from_db()
    assert owner.check_password(password)
