"""`/health/`: is every part Vestnik needs reachable? JSON, 200 when healthy, 503 otherwise."""

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

SCHEDULER_TICK_KEY = "scheduler:last_tick"
# The scheduler ticks every second; a minute of silence means it is not running.
SCHEDULER_MAX_TICK_AGE = 60.0


def _check_database() -> dict[str, Any]:
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "vendor": connection.vendor, "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_cache() -> dict[str, Any]:
    key = "health:probe"
    value = str(time.monotonic())
    cache.set(key, value, 30)
    ok = cache.get(key) == value
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
    raw = cache.get(SCHEDULER_TICK_KEY)
    last_tick = parse_datetime(raw) if isinstance(raw, str) else None
    if last_tick is None:
        return {"ok": False, "last_tick": None, "age_seconds": None}
    age = (timezone.now() - last_tick).total_seconds()
    return {"ok": age <= SCHEDULER_MAX_TICK_AGE, "last_tick": raw, "age_seconds": round(age, 1)}


def _check_smtp_breaker() -> dict[str, Any]:
    try:
        from mailings.services.breaker import breaker_status
    except ImportError:
        return {"ok": True, "state": "unknown"}
    status = breaker_status()
    # An open breaker is reported, not treated as unhealthy: Vestnik is up and waiting for the server.
    return {"ok": True, **status}


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
