"""`Idempotency-Key` on the API's POSTs: a retried request gets the first answer and never does the work twice.

A middleware rather than a decorator on each operation, because the answer to store is the final rendered
response (after django-ninja validated it against the schema); it runs for POSTs under /api/ only.
The key belongs to the token's owner. The record is inserted before the work starts, so a concurrent
retry loses the insert (the unique constraint) and is told the first one is still running (409), and a
retry after it finished gets the stored answer (with `Idempotent-Replayed: true`). The same key with
another body is refused (422). Keys are kept for settings.API_IDEMPOTENCY_TTL seconds.
"""

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from api.auth import ApiProblem, token_find
from api.models import IdempotentRequest
from api.problems import problem_response, too_big

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Answers that say nothing was done are not kept: the client should be able to retry them with the same key.
_NOT_STORED = {401, 429}


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() if request.method else b"")
    digest.update(b"\0" + request.path.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _replay(record: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status_code or 200, content_type=record.content_type)
    response["Idempotent-Replayed"] = "true"
    return response


def _claim(request: HttpRequest, user_id: int, key: str) -> IdempotentRequest | HttpResponse:
    """Our record for the key, newly inserted; or the response to give instead of running the request."""
    fingerprint = _fingerprint(request)
    cutoff = timezone.now() - timedelta(seconds=settings.API_IDEMPOTENCY_TTL)
    IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    try:
        with transaction.atomic():
            return IdempotentRequest.objects.create(user_id=user_id, key=key, fingerprint=fingerprint)
    except IntegrityError:
        pass
    existing = IdempotentRequest.objects.filter(user_id=user_id, key=key).first()
    if existing is None:  # expired and swept between the insert and this read: rare, let the client retry
        return problem_response(ApiProblem(409, _("Повторите запрос"), _("Ключ идемпотентности только что истёк.")))
    if existing.fingerprint != fingerprint:
        return problem_response(
            ApiProblem(
                422,
                _("Ключ уже использован"),
                _("Этот Idempotency-Key уже использован с другим запросом: для нового запроса нужен новый ключ."),
                errors={HEADER: [_("Ключ уже использован с другим телом запроса.")]},
            )
        )
    if existing.status_code is None:
        return problem_response(
            ApiProblem(
                409,
                _("Запрос ещё выполняется"),
                _("Запрос с этим Idempotency-Key ещё выполняется: повторите его позже."),
                headers={"Retry-After": "1"},
            )
        )
    return _replay(existing)


def idempotency_middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    def middleware(request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not request.path.startswith(settings.API_PATH_PREFIX):
            return get_response(request)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return problem_response(
                ApiProblem(
                    422,
                    _("Данные не прошли проверку"),
                    _("Idempotency-Key: от 1 до %(max)s символов.") % {"max": MAX_KEY_LENGTH},
                    errors={HEADER: [_("Неверный ключ идемпотентности.")]},
                )
            )
        token = token_find(request.headers.get("Authorization", ""))
        if token is None:
            return get_response(request)  # the API answers 401 itself
        try:
            claimed = _claim(request, token.owner_id, key)
        except RequestDataTooBig:
            return problem_response(too_big())
        if isinstance(claimed, HttpResponse):
            return claimed
        try:
            response = get_response(request)
        except BaseException:
            claimed.delete()
            raise
        if response.status_code >= 500 or response.status_code in _NOT_STORED or response.streaming:
            claimed.delete()
            return response
        claimed.status_code = response.status_code
        claimed.body = response.content
        claimed.content_type = response.get("Content-Type", "application/json")
        claimed.save(update_fields=["status_code", "body", "content_type"])
        logger.info("idempotent request stored: user=%s status=%s", token.owner_id, response.status_code)
        return response

    return middleware
