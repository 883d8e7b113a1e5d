"""The URL × actor matrix of the REST API: every operation of its OpenAPI document, for every kind of token.

The operations come from the document the API serves, so a new one fails here until someone decides who may
call it. Actors: no token, the owner's read-only token, the owner's read-write token, another user's, a
manager's, a blocked user's. Every refused call (and every read) leaves the database exactly as it was. The
site's pages are in test_access_matrix.py (which skips /api/v1/ and defers to this table).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from api.api import api as ninja_api
from api.models import ApiToken
from api.services import api_token_create
from users.models import User
from users.tests.access_world import World, db_snapshot, world_build

ACTORS = ["anonymous", "read_only", "owner", "other", "manager", "blocked"]
UNAUTHORIZED, OK, CREATED, ACCEPTED, NO_CONTENT = 401, 200, 201, 202, 204
DENIED, MISSING, CONFLICT, INVALID = 403, 404, 409, 422

Row = tuple[int, int, int, int]  # read_only, owner, other, manager (no token and blocked: always 401)


@dataclass(frozen=True)
class Op:
    expect: Row
    pk: Callable[[World], int] | None = None
    body: Callable[[World], Any] | None = None


READ_ALL = (OK, OK, OK, OK)
READ_OBJECT = (OK, OK, MISSING, OK)
WRITE_OBJECT = (DENIED, OK, MISSING, DENIED)
DELETE_OBJECT = (DENIED, NO_CONTENT, MISSING, DENIED)
CREATE = (DENIED, CREATED, CREATED, CREATED)
MODERATE = (DENIED, DENIED, MISSING, OK)


def _pk(attr: str) -> Callable[[World], int]:
    return lambda w: int(getattr(w, attr).pk)


def _mailing_body(w: World) -> dict[str, Any]:
    start = timezone.now() + timedelta(days=2)
    return {
        "message_id": w.message.pk,
        "smtp_account_id": w.smtp_account.pk,
        "start_at": start.isoformat(),
        "end_at": (start + timedelta(days=5)).isoformat(),
        "periodicity": "daily",
        "recipient_ids": [w.recipient.pk],
    }


OPERATIONS: dict[str, Op] = {
    "GET /api/v1/me": Op(READ_ALL),
    "GET /api/v1/recipients": Op(READ_ALL),
    "POST /api/v1/recipients": Op(CREATE, body=lambda w: {"email": "new@example.com", "full_name": "Новый"}),
    "POST /api/v1/recipients/upsert": Op(
        (DENIED, OK, OK, OK), body=lambda w: {"recipients": [{"email": "new@example.com", "full_name": "Новый"}]}
    ),
    "GET /api/v1/recipients/{pk}": Op(READ_OBJECT, pk=_pk("recipient")),
    "PATCH /api/v1/recipients/{pk}": Op(WRITE_OBJECT, pk=_pk("recipient"), body=lambda w: {"full_name": "Изменён"}),
    "DELETE /api/v1/recipients/{pk}": Op(DELETE_OBJECT, pk=_pk("recipient")),
    "GET /api/v1/lists": Op(READ_ALL),
    "POST /api/v1/lists": Op(CREATE, body=lambda w: {"name": "Новый список"}),
    "GET /api/v1/lists/{pk}": Op(READ_OBJECT, pk=_pk("recipient_list")),
    "PATCH /api/v1/lists/{pk}": Op(WRITE_OBJECT, pk=_pk("recipient_list"), body=lambda w: {"name": "Другое"}),
    "DELETE /api/v1/lists/{pk}": Op(DELETE_OBJECT, pk=_pk("recipient_list")),
    "GET /api/v1/lists/{pk}/members": Op(READ_OBJECT, pk=_pk("recipient_list")),
    "POST /api/v1/lists/{pk}/members": Op(
        WRITE_OBJECT, pk=_pk("recipient_list"), body=lambda w: {"recipient_ids": [w.recipient.pk]}
    ),
    "POST /api/v1/lists/{pk}/members/remove": Op(
        WRITE_OBJECT, pk=_pk("recipient_list"), body=lambda w: {"recipient_ids": [w.recipient.pk]}
    ),
    "GET /api/v1/messages": Op(READ_ALL),
    "POST /api/v1/messages": Op(CREATE, body=lambda w: {"subject": "Тема", "body": "Текст"}),
    "GET /api/v1/messages/{pk}": Op(READ_OBJECT, pk=_pk("message")),
    "PATCH /api/v1/messages/{pk}": Op(WRITE_OBJECT, pk=_pk("message"), body=lambda w: {"subject": "Изменено"}),
    # The world's message is sent by its mailings: the owner is refused with the web's words (409).
    "DELETE /api/v1/messages/{pk}": Op((DENIED, CONFLICT, MISSING, DENIED), pk=_pk("message")),
    "GET /api/v1/mailings": Op(READ_ALL),
    # Only the owner may build a mailing of the owner's message and recipients: for anyone else the ids are
    # not among the form's choices (422), as on the web.
    "POST /api/v1/mailings": Op((DENIED, CREATED, INVALID, INVALID), body=_mailing_body),
    "GET /api/v1/mailings/{pk}": Op(READ_OBJECT, pk=_pk("mailing")),
    "PATCH /api/v1/mailings/{pk}": Op(WRITE_OBJECT, pk=_pk("mailing"), body=lambda w: {"periodicity": "weekly"}),
    "DELETE /api/v1/mailings/{pk}": Op(DELETE_OBJECT, pk=_pk("mailing")),
    "POST /api/v1/mailings/{pk}/send": Op((DENIED, ACCEPTED, MISSING, DENIED), pk=_pk("mailing")),
    "POST /api/v1/mailings/{pk}/disable": Op(MODERATE, pk=_pk("mailing"), body=lambda w: {"reason": "спам"}),
    "POST /api/v1/mailings/{pk}/enable": Op(MODERATE, pk=_pk("disabled_mailing"), body=lambda w: {"reason": ""}),
    "GET /api/v1/attempts": Op(READ_ALL),
    "GET /api/v1/attempts/{pk}": Op(READ_OBJECT, pk=_pk("attempt")),
    "GET /api/v1/attempts/{pk}/deliveries": Op(READ_OBJECT, pk=_pk("attempt")),
    "POST /api/v1/attempts/{pk}/retry": Op((DENIED, ACCEPTED, MISSING, DENIED), pk=_pk("attempt")),
    "GET /api/v1/stats": Op(READ_ALL),
    "GET /api/v1/suppressions": Op(READ_ALL),
    "POST /api/v1/suppressions": Op(CREATE, body=lambda w: {"email": "leave@example.com", "reason": "не интересно"}),
    "GET /api/v1/suppressions/{pk}": Op(READ_OBJECT, pk=_pk("suppression")),
    "GET /api/v1/consents": Op(READ_ALL),
    "GET /api/v1/stats/mailings": Op(READ_ALL),
}


def _documented() -> list[str]:
    paths = ninja_api.get_openapi_schema()["paths"]
    return [f"{method.upper()} {path}" for path, operations in paths.items() for method in operations]


DOCUMENTED = _documented()


def test_the_table_names_every_operation_and_nothing_else() -> None:
    assert sorted(DOCUMENTED) == sorted(OPERATIONS)


@pytest.fixture
def world(owner: User, other_user: User, manager: User, blocked_user: User) -> World:
    return world_build(owner=owner, other=other_user, manager=manager, blocked=blocked_user)


def _token(world: World, actor: str) -> str | None:
    if actor == "anonymous":
        return None
    user = world.users["owner" if actor == "read_only" else actor]
    assert user is not None
    scope = ApiToken.Scope.READ if actor == "read_only" else ApiToken.Scope.WRITE
    return api_token_create(owner=user, name=actor, scope=scope)[1]


def _expected(op: Op, actor: str) -> int:
    if actor in {"anonymous", "blocked"}:
        return UNAUTHORIZED
    return dict(zip(["read_only", "owner", "other", "manager"], op.expect, strict=True))[actor]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("operation", DOCUMENTED)
def test_api_access(operation: str, actor: str, world: World) -> None:
    op = OPERATIONS[operation]
    method, path = operation.split(" ", 1)
    url = path.replace("{pk}", str(op.pk(world))) if op.pk else path
    token = _token(world, actor)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if method in {"POST", "PATCH"}:
        kwargs.update(data=json.dumps(op.body(world) if op.body else {}), content_type="application/json")
    expected = _expected(op, actor)
    before = db_snapshot()

    response = getattr(Client(), method.lower())(url, **kwargs)

    assert response.status_code == expected, (operation, actor, response.content[:300])
    if expected >= 400:
        assert response["Content-Type"] == "application/problem+json", (operation, actor)
        assert response.json()["status"] == expected
    if method == "GET" or expected >= 400:
        assert db_snapshot() == before, (operation, actor)
