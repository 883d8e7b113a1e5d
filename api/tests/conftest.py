"""Fixtures of the API tests: an empty cache, tokens for the shared world's users, a JSON client."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from api.models import ApiToken
from api.services import api_token_create
from tests.support import clear_tasks
from users.models import User


@pytest.fixture(autouse=True)
def _isolated(db: None) -> Iterator[None]:
    cache.clear()
    clear_tasks()
    yield
    cache.clear()


class ApiClient:
    """A test client that speaks JSON with a bearer token."""

    def __init__(self, token: str | None, language: str = "ru") -> None:
        self.client = Client()
        self.headers = {"Accept-Language": language}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        kwargs: dict[str, Any] = {"headers": {**self.headers, **headers}}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method.lower())(url, **kwargs)

    def get(self, path: str, **headers: str) -> Any:
        return self.call("GET", path, **headers)

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.call("POST", path, {} if body is None else body, **headers)

    def patch(self, path: str, body: Any, **headers: str) -> Any:
        return self.call("PATCH", path, body, **headers)

    def delete(self, path: str, **headers: str) -> Any:
        return self.call("DELETE", path, **headers)


def token_for(user: User, scope: str = ApiToken.Scope.WRITE) -> str:
    return api_token_create(owner=user, name="test", scope=scope)[1]


@pytest.fixture
def api(owner: User) -> ApiClient:
    return ApiClient(token_for(owner))


@pytest.fixture
def read_api(owner: User) -> ApiClient:
    return ApiClient(token_for(owner, ApiToken.Scope.READ))
