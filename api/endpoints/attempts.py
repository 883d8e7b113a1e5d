"""/attempts: runs of mailings, their ledger of deliveries (filter by state), and «Повторить для неудачных»."""

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from api.auth import ApiProblem
from api.endpoints.common import PK, answers, owned, user_of
from api.pagination import MAX_ID, MAX_LIMIT, page
from api.schemas import AttemptOut, DeliveryOut, page_of
from mailings.delivery.manual_runs import SendRefused, attempt_retry_failed
from mailings.models import Attempt, Delivery
from mailings.selectors import attempt_deliveries, attempts_for, attempts_visible_to

router = Router(tags=["attempts"])
AttemptPage = page_of(AttemptOut, "AttemptPage")
DeliveryPage = page_of(DeliveryOut, "DeliveryPage")


def _choice(value: str | None, choices: Any, field: str) -> str:
    if value and value not in choices.values:
        raise ApiProblem(
            422,
            _("Данные не прошли проверку"),
            errors={field: [_("Допустимые значения: %(values)s.") % {"values": ", ".join(choices.values)}]},
        )
    return value or ""


@router.get("", response=answers({200: AttemptPage}), summary="Попытки (фильтры: mailing_id, status)")
def attempts_index(
    request: Any,
    mailing_id: int | None = Query(None, ge=1, le=MAX_ID),
    status: str | None = Query(None, description="in_progress, success, failure или skipped", max_length=32),
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    qs = attempts_visible_to(user_of(request))
    if mailing_id is not None:
        qs = qs.filter(mailing_id=mailing_id)
    if state := _choice(status, Attempt.Status, "status"):
        qs = qs.filter(status=state)
    return page(qs, cursor=cursor, limit=limit)


@router.get("/{pk}", response=answers({200: AttemptOut}), summary="Попытка")
def attempts_get(request: Any, pk: int = PK) -> Any:
    return get_object_or_404(attempts_visible_to(user_of(request)), pk=pk)


@router.get("/{pk}/deliveries", response=answers({200: DeliveryPage}), summary="Журнал доставки попытки")
def attempts_deliveries(
    request: Any,
    pk: int = PK,
    state: str | None = Query(
        None, description="pending, sending, retry_wait, sent, failed, unknown или skipped", max_length=32
    ),
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    attempt = get_object_or_404(attempts_visible_to(user_of(request)), pk=pk)
    qs = attempt_deliveries(attempt=attempt)
    if chosen := _choice(state, Delivery.State, "state"):
        qs = qs.filter(state=chosen)
    return page(qs, cursor=cursor, limit=limit)


@router.post("/{pk}/retry", response=answers({202: AttemptOut}), summary="Повторить для неудачных (Idempotency-Key)")
def attempts_retry(request: Any, pk: int = PK) -> Status[Any]:
    user = user_of(request)
    attempt = owned(
        request, owned=attempts_for(user).select_related("mailing__owner"), visible=attempts_visible_to(user), pk=pk
    )
    try:
        retry = attempt_retry_failed(attempt=attempt)
    except SendRefused as exc:
        raise ApiProblem(409, _("Действие невозможно"), str(exc)) from exc
    return Status(202, retry)
