"""/recipients: the address book: CRUD, search, and the bulk upsert with a result per row."""

from typing import Any

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status

from api.endpoints.common import PK, answers, form_check, owned, query_text, user_of
from api.pagination import MAX_LIMIT, page
from api.schemas import RecipientIn, RecipientOut, RecipientPatch, UpsertIn, UpsertOut, page_of
from api.services import recipients_upsert
from mailings.forms import RecipientForm
from mailings.selectors import recipient_list, recipients_for, recipients_visible_to
from mailings.services.recipients import recipient_create, recipient_delete, recipient_update

router = Router(tags=["recipients"])
RecipientPage = page_of(RecipientOut, "RecipientPage")
RECIPIENT_COLUMNS = tuple(RecipientOut.model_fields)


@router.get("", response=answers({200: RecipientPage}), summary="Получатели (поиск: q)")
def recipients_list(
    request: Any,
    q: str = Query("", max_length=200),
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    # No join of the owner (the API answers owner_id only), and rows as dicts: see api/pagination.py.
    qs = recipient_list(user=user_of(request), query=query_text(q)).select_related(None)
    return page(qs, cursor=cursor, limit=limit, columns=RECIPIENT_COLUMNS)


@router.post("", response=answers({201: RecipientOut}), summary="Добавить получателя")
def recipients_create(request: Any, payload: RecipientIn) -> Status[Any]:
    user = user_of(request)
    form = RecipientForm(data=payload.model_dump(), owner=user)
    form_check(form)
    return Status(201, recipient_create(owner=user, **form.cleaned_data))


@router.post("/upsert", response=answers({200: UpsertOut}), summary="Добавить или обновить до 10 000 получателей")
def recipients_bulk_upsert(request: Any, payload: UpsertIn) -> dict[str, Any]:
    result = recipients_upsert(owner=user_of(request), rows=[row.model_dump() for row in payload.recipients])
    return {**result.counts, "results": result.rows}


@router.get("/{pk}", response=answers({200: RecipientOut}), summary="Получатель")
def recipients_get(request: Any, pk: int = PK) -> Any:
    return get_object_or_404(recipients_visible_to(user_of(request)), pk=pk)


@router.patch("/{pk}", response=answers({200: RecipientOut}), summary="Изменить получателя")
def recipients_update(request: Any, payload: RecipientPatch, pk: int = PK) -> Any:
    user = user_of(request)
    recipient = owned(request, owned=recipients_for(user), visible=recipients_visible_to(user), pk=pk)
    data = {"email": recipient.email, "full_name": recipient.full_name, "comment": recipient.comment}
    data.update(payload.model_dump(exclude_none=True))
    form = RecipientForm(data=data, instance=recipients_for(user).get(pk=recipient.pk), owner=user)
    form_check(form)
    return recipient_update(recipient=recipient, **form.cleaned_data)


@router.delete("/{pk}", response=answers({204: None}), summary="Удалить получателя")
def recipients_delete(request: Any, pk: int = PK) -> Status[Any]:
    user = user_of(request)
    recipient_delete(recipient=owned(request, owned=recipients_for(user), visible=recipients_visible_to(user), pk=pk))
    return Status(204, None)
