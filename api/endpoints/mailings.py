"""/mailings: CRUD, «Отправить сейчас», and the managers' disable / enable; the web's forms and services."""

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from api.auth import ApiProblem
from api.endpoints.common import PK, answers, forbidden_unless, form_check, owned, query_text, user_of
from api.pagination import MAX_LIMIT, page
from api.schemas import AttemptOut, MailingIn, MailingOut, MailingPatch, ReasonIn, page_of
from audience.forms import AudienceForm
from mailings.delivery.manual_runs import SendRefused, mailing_send_now
from mailings.forms import MailingForm
from mailings.models import Attempt, Mailing
from mailings.selectors import mailings_for, mailings_visible_to
from mailings.services.mailings import mailing_create, mailing_delete, mailing_update
from moderation.services import ModerationRefused, mailing_disable, mailing_enable
from users.forms import ModerationReasonForm

router = Router(tags=["mailings"])
MailingPage = page_of(MailingOut, "MailingPage")
# The forms' field names → the API's.
_RENAMED = {
    "message": "message_id",
    "smtp_account": "smtp_account_id",
    "lists": "list_ids",
    "recipients": "recipient_ids",
}


def _visible(request: Any) -> Any:
    return mailings_visible_to(user_of(request)).prefetch_related("lists", "recipients")


def _refused(exc: Exception) -> ApiProblem:
    return ApiProblem(409, _("Действие невозможно"), str(exc))


@router.get("", response=answers({200: MailingPage}), summary="Рассылки (поиск: q по теме или номеру)")
def mailings_index(
    request: Any,
    q: str = Query("", max_length=200),
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    qs = _visible(request)
    if text := query_text(q):
        qs = qs.filter(pk__in=_search(request, text))
    return page(qs, cursor=cursor, limit=limit)


def _search(request: Any, text: str) -> Any:
    from mailings.selectors import mailing_list

    return mailing_list(user=user_of(request), query=text).values("pk")


def _schedule_data(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "message": values["message_id"],
        "smtp_account": values.get("smtp_account_id") or "",
        "start_at": values["start_at"],
        "end_at": values["end_at"],
        "periodicity": values["periodicity"],
    }


@router.post("", response=answers({201: MailingOut}), summary="Создать рассылку")
def mailings_create(request: Any, payload: MailingIn) -> Status[Any]:
    user = user_of(request)
    values = payload.model_dump()
    form = MailingForm(data=_schedule_data(values), owner=user)
    audience = AudienceForm(
        data={
            "all_recipients": values["all_recipients"],
            "lists": values["list_ids"],
            "recipients": values["recipient_ids"],
        },
        owner=user,
    )
    form_check(form, audience, rename=_RENAMED)
    mailing = mailing_create(owner=user, **form.cleaned_data, **audience.service_kwargs())
    return Status(201, _visible(request).get(pk=mailing.pk))


@router.get("/{pk}", response=answers({200: MailingOut}), summary="Рассылка")
def mailings_get(request: Any, pk: int = PK) -> Any:
    return get_object_or_404(_visible(request), pk=pk)


@router.patch("/{pk}", response=answers({200: MailingOut}), summary="Изменить рассылку")
def mailings_update(request: Any, payload: MailingPatch, pk: int = PK) -> Any:
    user = user_of(request)
    mailing = owned(request, owned=mailings_for(user), visible=mailings_visible_to(user), pk=pk)
    now = {
        "message_id": mailing.message_id,
        "smtp_account_id": mailing.smtp_account_id,
        "start_at": timezone.localtime(mailing.start_at).isoformat(),
        "end_at": timezone.localtime(mailing.end_at).isoformat(),
        "periodicity": mailing.periodicity,
    }
    changes = payload.model_dump(exclude_unset=True)
    values = {**now, **{k: v for k, v in changes.items() if k in now and (v is not None or k == "smtp_account_id")}}
    form = MailingForm(data=_schedule_data(values), instance=mailings_for(user).get(pk=pk), owner=user)
    audience_data: dict[str, Any] = {
        "all_recipients": mailing.all_recipients if payload.all_recipients is None else payload.all_recipients,
        "lists": [x.pk for x in mailing.lists.all()] if payload.list_ids is None else payload.list_ids,
        "recipients": [],
    }
    if payload.recipient_ids is not None:
        audience_data.update(recipients=payload.recipient_ids, clear_chosen=True)
    audience = AudienceForm(data=audience_data, owner=user, mailing=mailing)
    form_check(form, audience, rename=_RENAMED)
    mailing_update(mailing=mailing, **form.cleaned_data, **audience.service_kwargs())
    return _visible(request).get(pk=pk)


@router.delete("/{pk}", response=answers({204: None}), summary="Удалить рассылку с её попытками")
def mailings_delete(request: Any, pk: int = PK) -> Status[Any]:
    user = user_of(request)
    mailing_delete(mailing=owned(request, owned=mailings_for(user), visible=mailings_visible_to(user), pk=pk))
    return Status(204, None)


@router.post("/{pk}/send", response=answers({202: AttemptOut}), summary="Отправить сейчас (Idempotency-Key)")
def mailings_send(request: Any, pk: int = PK) -> Status[Any]:
    user = user_of(request)
    # Owner only: a manager may read every mailing but not send on someone's behalf (as on the web).
    mailing = owned(request, owned=mailings_for(user).select_related("owner"), visible=mailings_visible_to(user), pk=pk)
    try:
        attempt = mailing_send_now(mailing=mailing, trigger=Attempt.Trigger.MANUAL)
    except SendRefused as exc:
        raise _refused(exc) from exc
    return Status(202, attempt)


def _moderate(request: Any, pk: int, payload: ReasonIn, *, disabling: bool) -> Mailing:
    user = user_of(request)
    mailing = get_object_or_404(mailings_visible_to(user).select_related("owner"), pk=pk)
    forbidden_unless(user.has_perm("mailings.disable_mailing"))
    if mailing.is_enabled != disabling:
        raise ApiProblem(
            409, _("Действие невозможно"), _("Рассылка уже отключена.") if disabling else _("Рассылка уже включена.")
        )
    form = ModerationReasonForm(data=payload.model_dump(), required=disabling)
    form_check(form)
    service = mailing_disable if disabling else mailing_enable
    try:
        service(mailing=mailing, actor=user, reason=form.cleaned_data["reason"])
    except ModerationRefused as exc:
        raise _refused(exc) from exc
    return _visible(request).get(pk=pk)


@router.post("/{pk}/disable", response=answers({200: MailingOut}), summary="Отключить рассылку (менеджер)")
def mailings_disable(request: Any, payload: ReasonIn, pk: int = PK) -> Mailing:
    return _moderate(request, pk, payload, disabling=True)


@router.post("/{pk}/enable", response=answers({200: MailingOut}), summary="Включить рассылку (менеджер)")
def mailings_enable(request: Any, payload: ReasonIn, pk: int = PK) -> Mailing:
    return _moderate(request, pk, payload, disabling=False)
