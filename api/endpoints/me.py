"""/me: who the token belongs to and what it may do."""

from typing import Any

from ninja import Router, Schema

from api.auth import request_token
from api.endpoints.common import answers, user_of

router = Router(tags=["account"])


class MeOut(Schema):
    id: int
    email: str
    token_name: str
    scope: str
    is_manager: bool


@router.get("", response=answers({200: MeOut}), summary="Владелец токена")
def me(request: Any) -> dict[str, Any]:
    user, token = user_of(request), request_token(request)
    return {
        "id": user.pk,
        "email": user.email,
        "token_name": token.name,
        "scope": token.scope,
        "is_manager": user.has_perm("mailings.view_all_mailings"),
    }
