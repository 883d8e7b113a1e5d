"""Sending webhook messages (the worker's side): claim, sign, POST, log, retry or give up, disable the endpoint.

A message is claimed with one conditional UPDATE (pending and due → sending, with a lease), sent with no
transaction open, and its outcome written in one short transaction. Signing is the `standardwebhooks`
library's (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`).
"""

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from standardwebhooks import Webhook

from webhooks import outbound
from webhooks.models import WebhookEndpoint, WebhookMessage, WebhookRequest
from webhooks.selectors import endpoints_cache_forget

logger = logging.getLogger(__name__)

State = WebhookMessage.State
USER_AGENT = "Vestnik-Webhooks/1"
# Seconds of lease beyond the longest a request may take (connect, reads, writing the outcome).
LEASE_MARGIN = 30

# Why a try had no HTTP answer, as stored in WebhookRequest.error; put into words on the endpoint page.
ERRORS: dict[str, str] = {
    "bad_url": gettext_noop("адрес не http(s) или с ошибкой"),
    "dns_failed": gettext_noop("имя сервера не найдено"),
    "address_not_allowed": gettext_noop("адрес во внутренней сети запрещён"),
    "timeout": gettext_noop("сервер не ответил вовремя"),
    "connection_failed": gettext_noop("не удалось соединиться"),
    "tls_failed": gettext_noop("ошибка TLS"),
    "endpoint_disabled": gettext_noop("точка приёма отключена"),
}


def error_text(code: str) -> str:
    return str(_(ERRORS[code])) if code in ERRORS else code


def retry_delay(tries: int) -> int | None:
    """Seconds to wait after the `tries`-th failed try, or None when the schedule is used up."""
    schedule = list(settings.WEBHOOKS_RETRY_SCHEDULE)
    if tries > len(schedule):
        return None
    return int(schedule[tries - 1])


@dataclass(frozen=True)
class TryResult:
    status: int | None = None
    excerpt: str = ""
    error: str = ""
    detail: str = ""
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def signed_headers(*, secret: str, msg_id: str, body: str, now: datetime) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=now.astimezone(UTC), data=body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def _try(*, endpoint: WebhookEndpoint, message: WebhookMessage, now: datetime) -> TryResult:
    headers = signed_headers(secret=endpoint.secret, msg_id=message.msg_id, body=message.body, now=now)
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        response = outbound.post(
            url=endpoint.url,
            body=message.body.encode(),
            headers=headers,
            timeout=float(settings.WEBHOOKS_TIMEOUT),
        )
    except outbound.Refused as exc:
        return TryResult(error=exc.code, detail=exc.detail, duration_ms=took())
    except urllib3.exceptions.NewConnectionError as exc:
        # Before TimeoutError: urllib3 makes a refused connection a kind of connect timeout.
        return TryResult(error="connection_failed", detail=str(exc)[:200], duration_ms=took())
    except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
        return TryResult(error="timeout", detail=str(exc)[:200], duration_ms=took())
    except urllib3.exceptions.SSLError as exc:
        return TryResult(error="tls_failed", detail=str(exc)[:200], duration_ms=took())
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return TryResult(error="connection_failed", detail=str(exc)[:200], duration_ms=took())
    return TryResult(status=response.status, excerpt=response.excerpt, duration_ms=took())


def _claim(*, message_id: int, now: datetime) -> bool:
    lease = now + timedelta(seconds=float(settings.WEBHOOKS_TIMEOUT) * 3 + LEASE_MARGIN)
    due = Q(next_try_at__isnull=True) | Q(next_try_at__lte=now)
    return bool(
        WebhookMessage.objects.filter(due, pk=message_id, state=State.PENDING).update(
            state=State.SENDING, lease_until=lease
        )
    )


def message_send(*, message_id: int) -> datetime | None:
    """One try of one message if it is due and nobody else holds it; returns when to try again (None: no retry
    is to be enqueued: delivered, given up, or not ours)."""
    now = timezone.now()
    if not _claim(message_id=message_id, now=now):
        return None
    message = WebhookMessage.objects.select_related("endpoint").get(pk=message_id)
    endpoint = message.endpoint
    if not endpoint.is_enabled:
        WebhookMessage.objects.filter(pk=message.pk).update(state=State.FAILED, lease_until=None, next_try_at=None)
        return None
    result = _try(endpoint=endpoint, message=message, now=now)
    number = message.tries + 1
    retry_at = None
    if not result.ok:
        delay = retry_delay(number)
        retry_at = None if delay is None else timezone.now() + timedelta(seconds=delay)
    with transaction.atomic():
        WebhookRequest.objects.create(
            endpoint=endpoint,
            message=message,
            number=number,
            at=now,
            status_code=result.status,
            response_excerpt=result.excerpt,
            error=result.error,
            error_detail=result.detail,
            duration_ms=result.duration_ms,
            next_retry_at=retry_at,
        )
        if result.ok:
            state, next_try = State.DELIVERED, None
        elif retry_at is not None:
            state, next_try = State.PENDING, retry_at
        else:
            state, next_try = State.FAILED, None
        WebhookMessage.objects.filter(pk=message.pk, state=State.SENDING).update(
            state=state, tries=number, next_try_at=next_try, lease_until=None
        )
        if result.ok:
            WebhookEndpoint.objects.filter(pk=endpoint.pk, consecutive_failures__gt=0).update(consecutive_failures=0)
        elif state == State.FAILED:
            _failed_message_count(endpoint=endpoint, now=now)
    log = logger.info if result.ok else logger.warning
    log(
        "webhook try: endpoint=%s message=%s event=%s try=%s status=%s error=%s retry_at=%s",
        endpoint.pk,
        message.msg_id,
        message.event,
        number,
        result.status,
        result.error,
        retry_at.isoformat() if retry_at else "",
    )
    return retry_at


def _failed_message_count(*, endpoint: WebhookEndpoint, now: datetime) -> None:
    """A message used up its retries: count it; WEBHOOKS_DISABLE_AFTER in a row disable the endpoint."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    limit = int(settings.WEBHOOKS_DISABLE_AFTER)
    if limit <= 0:
        return
    won = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_enabled=True, consecutive_failures__gte=limit).update(
        is_enabled=False, disabled_automatically_at=now
    )
    if not won:
        return
    endpoints_cache_forget(owner_id=endpoint.owner_id)
    logger.warning("webhook endpoint disabled after %s failed messages in a row: endpoint=%s", limit, endpoint.pk)
    _owner_tell_disabled(endpoint=endpoint)


def _owner_tell_disabled(*, endpoint: WebhookEndpoint) -> None:
    from users.account_emails import account_email_enqueue

    owner = endpoint.owner
    link = settings.SITE_URL.rstrip("/") + reverse("webhooks:endpoint_detail", args=[endpoint.pk])
    with translation.override(owner.language or settings.LANGUAGE_CODE):
        account_email_enqueue(
            name="webhook_disabled",
            to=owner.email,
            context={
                "user": owner,
                "endpoint": endpoint,
                "link": link,
                "failures": int(settings.WEBHOOKS_DISABLE_AFTER),
                "site_name": settings.SITE_NAME,
            },
        )
