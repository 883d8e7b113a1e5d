"""/messages: the letters mailings send."""

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import Query, Router, Status

from api.auth import ApiProblem
from api.endpoints.common import PK, answers, form_check, owned, query_text, user_of
from api.pagination import MAX_LIMIT, page
from api.schemas import MessageIn, MessageOut, MessagePatch, page_of
from mailings.forms import MessageForm
from mailings.selectors import message_list, messages_for, messages_visible_to
from mailings.services.messages import MessageInUse, message_create, message_delete, message_update

router = Router(tags=["messages"])
MessagePage = page_of(MessageOut, "MessagePage")


@router.get("", response=answers({200: MessagePage}), summary="Сообщения (поиск: q)")
def messages_index(
    request: Any,
    q: str = Query("", max_length=200),
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    return page(message_list(user=user_of(request), query=query_text(q)), cursor=cursor, limit=limit)


@router.post("", response=answers({201: MessageOut}), summary="Создать сообщение")
def messages_create(request: Any, payload: MessageIn) -> Status[Any]:
    user = user_of(request)
    form = MessageForm(data=payload.model_dump())
    form_check(form)
    return Status(201, message_create(owner=user, **form.cleaned_data))


@router.get("/{pk}", response=answers({200: MessageOut}), summary="Сообщение")
def messages_get(request: Any, pk: int = PK) -> Any:
    return get_object_or_404(messages_visible_to(user_of(request)), pk=pk)


@router.patch("/{pk}", response=answers({200: MessageOut}), summary="Изменить сообщение")
def messages_update(request: Any, payload: MessagePatch, pk: int = PK) -> Any:
    user = user_of(request)
    message = owned(request, owned=messages_for(user), visible=messages_visible_to(user), pk=pk)
    data = {"subject": message.subject, "body": message.body, "format": message.format}
    data.update(payload.model_dump(exclude_none=True))
    form = MessageForm(data=data, instance=messages_for(user).get(pk=pk))
    form_check(form)
    return message_update(message=message, **form.cleaned_data)


@router.delete("/{pk}", response=answers({204: None}), summary="Удалить сообщение")
def messages_delete(request: Any, pk: int = PK) -> Status[Any]:
    user = user_of(request)
    message = owned(request, owned=messages_for(user), visible=messages_visible_to(user), pk=pk)
    try:
        message_delete(message=message)
    except MessageInUse as exc:
        raise ApiProblem(
            409,
            _("Сообщение используется"),
            # The web's words (mailings/views/messages.py), so one translation serves both.
            ngettext(
                "Сообщение нельзя удалить: его отправляет %(count)d рассылка. Сначала удалите её или выберите "
                "в ней другое сообщение.",
                "Сообщение нельзя удалить: его отправляют %(count)d рассылки. Сначала удалите их или выберите "
                "в них другое сообщение.",
                exc.mailing_count,
            )
            % {"count": exc.mailing_count},
        ) from exc
    return Status(204, None)
