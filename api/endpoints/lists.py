"""/lists: lists of recipients and their members."""

from typing import Any

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status

from api.endpoints.common import PK, answers, form_check, owned, user_of
from api.endpoints.recipients import RECIPIENT_COLUMNS
from api.pagination import MAX_LIMIT, page
from api.schemas import ListIn, ListOut, MembersIn, MembersOut, RecipientOut, page_of
from audience.forms import ListForm
from audience.selectors import list_list, list_members, lists_for, lists_visible_to
from audience.services import list_create, list_delete, list_members_add, list_members_remove, list_rename
from mailings.selectors import recipients_for

router = Router(tags=["lists"])
ListPage = page_of(ListOut, "ListPage")
MemberPage = page_of(RecipientOut, "MemberPage")


@router.get("", response=answers({200: ListPage}), summary="Списки")
def lists_index(
    request: Any, cursor: str | None = Query(None, max_length=100), limit: int = Query(100, ge=1, le=MAX_LIMIT)
) -> dict[str, Any]:
    return page(list_list(user=user_of(request)), cursor=cursor, limit=limit)


@router.post("", response=answers({201: ListOut}), summary="Создать список")
def lists_create(request: Any, payload: ListIn) -> Status[Any]:
    user = user_of(request)
    form = ListForm(data=payload.model_dump(), owner=user)
    form_check(form)
    return Status(201, list_create(owner=user, name=form.cleaned_data["name"]))


@router.get("/{pk}", response=answers({200: ListOut}), summary="Список")
def lists_get(request: Any, pk: int = PK) -> Any:
    return get_object_or_404(lists_visible_to(user_of(request)), pk=pk)


@router.patch("/{pk}", response=answers({200: ListOut}), summary="Переименовать список")
def lists_update(request: Any, payload: ListIn, pk: int = PK) -> Any:
    user = user_of(request)
    recipient_list = owned(request, owned=lists_for(user), visible=lists_visible_to(user), pk=pk)
    form = ListForm(data=payload.model_dump(), instance=lists_for(user).get(pk=pk), owner=user)
    form_check(form)
    return list_rename(recipient_list=recipient_list, name=form.cleaned_data["name"])


@router.delete("/{pk}", response=answers({204: None}), summary="Удалить список (получатели остаются)")
def lists_delete(request: Any, pk: int = PK) -> Status[Any]:
    user = user_of(request)
    list_delete(recipient_list=owned(request, owned=lists_for(user), visible=lists_visible_to(user), pk=pk))
    return Status(204, None)


@router.get("/{pk}/members", response=answers({200: MemberPage}), summary="Участники списка")
def lists_members(
    request: Any,
    pk: int = PK,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    recipient_list = get_object_or_404(lists_visible_to(user_of(request)), pk=pk)
    return page(list_members(recipient_list=recipient_list), cursor=cursor, limit=limit, columns=RECIPIENT_COLUMNS)


@router.post("/{pk}/members", response=answers({200: MembersOut}), summary="Добавить получателей в список")
def lists_members_add(request: Any, payload: MembersIn, pk: int = PK) -> dict[str, int]:
    user = user_of(request)
    recipient_list = owned(request, owned=lists_for(user), visible=lists_visible_to(user), pk=pk)
    # Ids of recipients that are not the owner's are left out, as the web's picker cannot offer them.
    recipients = recipients_for(user).filter(pk__in=payload.recipient_ids)
    return {"changed": list_members_add(recipient_list=recipient_list, recipients=recipients)}


@router.post("/{pk}/members/remove", response=answers({200: MembersOut}), summary="Убрать получателей из списка")
def lists_members_remove(request: Any, payload: MembersIn, pk: int = PK) -> dict[str, int]:
    user = user_of(request)
    recipient_list = owned(request, owned=lists_for(user), visible=lists_visible_to(user), pk=pk)
    recipients = recipients_for(user).filter(pk__in=payload.recipient_ids)
    return {"changed": list_members_remove(recipient_list=recipient_list, recipients=recipients)}
