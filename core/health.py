"""`/health/`: is every part Vestnik needs reachable? JSON, 200 when healthy, 503 otherwise."""

import logging
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# The scheduler ticks every second; a minute of silence means it is not running.
SCHEDULER_MAX_TICK_AGE = 60.0


def _check_database() -> dict[str, Any]:
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "vendor": connection.vendor, "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_cache() -> dict[str, Any]:
    # A key of its own per probe: with one shared key, concurrent probes overwrote each other's value between
    # set and get, and a healthy cache answered 503.
    key = f"health:probe:{uuid.uuid4().hex}"
    value = str(time.monotonic())
    cache.set(key, value, 30)
    ok = cache.get(key) == value
    cache.delete(key)
    return {"ok": ok, "backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def _check_queue() -> dict[str, Any]:
    backend = settings.TASKS["default"]["BACKEND"]
    if backend == "django_tasks_rq.RQBackend":
        import django_rq

        depth = sum(django_rq.get_queue(name).count for name in settings.TASK_QUEUES)
        return {"ok": True, "backend": "rq", "depth": depth}
    from django_tasks_db.models import DBTaskResult

    return {"ok": True, "backend": "database", "depth": DBTaskResult.objects.ready().count()}


def _check_scheduler() -> dict[str, Any]:
    from mailings.delivery.schedule import scheduler_last_tick

    last_tick = scheduler_last_tick()
    if last_tick is None:
        return {"ok": False, "last_tick": None, "age_seconds": None}
    age = (timezone.now() - last_tick).total_seconds()
    return {"ok": age <= SCHEDULER_MAX_TICK_AGE, "last_tick": last_tick.isoformat(), "age_seconds": round(age, 1)}


def _check_smtp_breaker() -> dict[str, Any]:
    from mailings.delivery.breaker import account_state_peek
    from mailings.delivery.engine import smtp_config
    from mailings.models import SmtpAccountState

    state = account_state_peek(account=smtp_config().account)
    now = timezone.now()
    # Owners' own accounts (senders.SmtpAccount, keyed `acct:<id>`): how many are paused, never which.
    accounts_paused = SmtpAccountState.objects.filter(
        account__startswith="acct:", breaker_open_until__isnull=False
    ).count()
    open_until = state.breaker_open_until
    # An open breaker is reported, not unhealthy: Vestnik is up, keeps the mail and waits for the server.
    return {
        "ok": True,
        "breaker": "open" if open_until is not None else "closed",
        "owner_accounts_paused": accounts_paused,
        "reason": state.breaker_reason_text if open_until is not None else "",
        "next_probe_at": open_until.isoformat() if open_until is not None else None,
        "paused_seconds": round((open_until - now).total_seconds(), 1)
        if open_until is not None and open_until > now
        else 0,
    }


CHECKS = {
    "database": _check_database,
    "cache": _check_cache,
    "queue": _check_queue,
    "scheduler": _check_scheduler,
    "smtp": _check_smtp_breaker,
}


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    report: dict[str, Any] = {}
    for name, check in CHECKS.items():
        try:
            report[name] = check()
        except Exception as exc:  # any failure of a part is a result to report, not an error page
            logger.warning("health check %s failed: %s", name, exc.__class__.__name__)
            report[name] = {"ok": False, "error": exc.__class__.__name__}
    healthy = all(part.get("ok") for part in report.values())
    return JsonResponse({"status": "ok" if healthy else "fail", "checks": report}, status=200 if healthy else 503)
