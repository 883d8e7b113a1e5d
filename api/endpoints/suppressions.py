"""/suppressions and /consents: the suppression list (read; unsubscribe an address) and the consent evidence (read)."""

from datetime import datetime
from typing import Annotated, Any

from django import forms
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Status
from pydantic import BaseModel, ConfigDict

from api.endpoints.common import PK, answers, form_check, query_text, user_of
from api.pagination import MAX_LIMIT, page
from api.problems import invalid
from api.schemas import page_of
from consents.selectors import consent_records_visible_to
from mailings.forms import RecipientForm
from suppressions.forms import UnsubscribeForm
from suppressions.models import Suppression, suppression_key
from suppressions.selectors import suppression_list, suppressions_for, suppressions_visible_to
from suppressions.services import suppression_add

router = Router(tags=["suppressions"])
consents_router = Router(tags=["consents"])


class SuppressionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int
    email: str
    source: str
    reason: str
    created_at: datetime


class SuppressionIn(BaseModel):
    email: Annotated[str, Field(max_length=320)]
    reason: Annotated[str, Field(max_length=2000)] = ""


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int
    recipient_id: int | None
    email: str
    kind: str
    method: str
    wording_id: int | None
    source: str
    source_note: str
    ip: str | None
    created_at: datetime


SuppressionPage = page_of(SuppressionOut, "SuppressionPage")
ConsentPage = page_of(ConsentOut, "ConsentPage")


@router.get("", response=answers({200: SuppressionPage}), summary="Отписавшиеся адреса (поиск: q)")
def suppressions_index(
    request: Any,
    q: str = Query("", max_length=200),
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    qs = suppression_list(user=user_of(request), query=query_text(q)).select_related(None)
    return page(qs, cursor=cursor, limit=limit)


@router.get("/{pk}", response=answers({200: SuppressionOut}), summary="Отписка")
def suppressions_get(request: Any, pk: int = PK) -> Any:
    return get_object_or_404(suppressions_visible_to(user_of(request)), pk=pk)


@router.post(
    "",
    response=answers({200: SuppressionOut, 201: SuppressionOut}),
    summary="Отписать адрес (сразу; 200, если он уже был отписан)",
)
def suppressions_create(request: Any, payload: SuppressionIn) -> Status[Any]:
    user = user_of(request)
    reason = UnsubscribeForm(data={"reason": payload.reason})
    form_check(reason)
    # The recipient form's own address field: the same rules and words as everywhere else.
    try:
        email = RecipientForm(owner=user).fields["email"].clean(payload.email)
    except forms.ValidationError as exc:
        raise invalid({"email": [str(m) for m in exc.messages]}) from exc
    existed = suppressions_for(user).filter(email_key=suppression_key(email)).exists()
    entry = suppression_add(
        owner_id=user.pk, email=email, source=Suppression.Source.API, reason=reason.cleaned_data["reason"]
    )
    return Status(200 if existed else 201, entry)


@consents_router.get("", response=answers({200: ConsentPage}), summary="Записи о согласиях (фильтр: email)")
def consents_index(
    request: Any,
    email: str = Query("", max_length=320),
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    qs = consent_records_visible_to(user_of(request))
    if address := query_text(email):
        qs = qs.filter(email_key=address.lower())
    return page(qs, cursor=cursor, limit=limit)
