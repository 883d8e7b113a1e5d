import pytest
from django.test import Client


@pytest.mark.django_db
def test_home_page_renders_in_russian_by_default(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "Регистрация" in response.content.decode()
