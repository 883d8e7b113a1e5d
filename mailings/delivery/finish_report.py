"""What happens when a run finishes, for its owner: the `run.finished` webhook and the finish report email.

`attempt_finished_notify` runs in the transaction that finished the run (run_finish.py): the webhook's outbox
rows are written with it, and the report is enqueued when it commits. The report is rendered by the task, in
the owner's language (`User.language`), and sent through the account email path (users/tasks.py), so it
counts in the service account's limits and waits out its breaker like any account email.
"""

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.template import loader
from django.urls import reverse
from django.utils import timezone, translation
from django_tasks import task

from mailings.delivery.reasons import reason_text
from mailings.models import Attempt, Delivery
from webhooks.models import Event
from webhooks.selectors import endpoints_subscribed
from webhooks.services import event_emit, events_emit

logger = logging.getLogger(__name__)

State = Delivery.State
# Failure reasons named in the report.
TOP_REASONS = 3


def site_link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def attempt_links(attempt_id: int) -> dict[str, str]:
    attempt_url = site_link(reverse("mailings:attempt_detail", args=[attempt_id]))
    # «Повторить для неудачных» is a POST form on the attempt's page (a link cannot start a run): the anchor
    # takes the owner to it.
    return {"attempt": attempt_url, "retry_failed": attempt_url + "#retry"}


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def run_finished_payload(attempt: Attempt) -> dict[str, Any]:
    links = attempt_links(attempt.pk)
    return {
        "attempt_id": attempt.pk,
        "mailing_id": attempt.mailing_id,
        "subject": attempt.mailing.message.subject,
        "status": attempt.status,
        "trigger": attempt.trigger,
        "started_at": _iso(attempt.started_at),
        "finished_at": _iso(attempt.finished_at),
        "counts": {
            "total": attempt.total_count,
            "delivered": attempt.sent_count,
            "failed": attempt.failed_count,
            "unknown": attempt.unknown_count,
            "skipped": attempt.skipped_count,
        },
        "links": {
            "attempt": links["attempt"],
            "mailing": site_link(reverse("mailings:mailing_detail", args=[attempt.mailing_id])),
            "retry_failed": links["retry_failed"],
        },
    }


def attempt_finished_notify(*, attempt_id: int) -> None:
    """The run has just been finished in the caller's transaction: tell the owner's endpoints and, after the
    commit, send the owner the report (unless they turned it off in the profile)."""
    attempt = Attempt.objects.select_related("mailing__owner", "mailing__message").get(pk=attempt_id)
    owner = attempt.mailing.owner
    event_emit(owner_id=owner.pk, event=Event.RUN_FINISHED, data=run_finished_payload(attempt))
    if owner.finish_report:
        transaction.on_commit(lambda: _report_enqueue(attempt_id))


def _report_enqueue(attempt_id: int) -> None:
    try:
        send_finish_report.enqueue(attempt_id)
    except Exception:
        # The queue is away: the run is finished all the same; the report is the one thing lost.
        logger.exception("could not enqueue the finish report: attempt=%s", attempt_id)


def deliveries_failed_emit(*, owner_id: int, attempt_id: int, mailing_id: int, deliveries: list[Delivery]) -> None:
    """`delivery.failed` for a batch's final failures, in one write (nothing when no endpoint chose it)."""
    failed = [d for d in deliveries if d.state == State.FAILED]
    if not failed:
        return
    if not endpoints_subscribed(owner_id=owner_id, event=Event.DELIVERY_FAILED):
        return

    def known(d: Delivery, name: str) -> Any:
        # The engine loads only some columns; one it did not load and did not set is not worth a query per row.
        return None if name in d.get_deferred_fields() else getattr(d, name)

    with translation.override(settings.LANGUAGE_CODE):
        items = [
            {
                "attempt_id": attempt_id,
                "mailing_id": mailing_id,
                "recipient_id": known(d, "recipient_id"),
                "email": d.email,
                "smtp_code": known(d, "smtp_code"),
                "smtp_reply": known(d, "smtp_reply") or "",
                "reason": known(d, "reason") or "",
                "reason_text": reason_text(known(d, "reason") or "", known(d, "reason_params")),
                "failed_at": _iso(known(d, "finished_at")),
            }
            for d in failed
        ]
    events_emit(owner_id=owner_id, event=Event.DELIVERY_FAILED, items=items)


def failure_reasons(*, attempt_id: int, limit: int = TOP_REASONS) -> list[tuple[str, int]]:
    """The most frequent reasons of the run's failed and unknown deliveries, in words of the active language."""
    rows = (
        Delivery.objects.filter(attempt_id=attempt_id, state__in=[State.FAILED, State.UNKNOWN])
        .values_list("reason", "reason_params", "smtp_reply")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[str, int] = {}
    for code, params, reply, n in rows:
        text = reason_text(code, params) if code else ""
        if reply:
            text = f"{text}: {reply[:120]}" if text else reply[:120]
        text = text or str(State.FAILED.label)
        counts[text] = counts.get(text, 0) + n
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def finish_report_render(*, attempt: Attempt) -> tuple[str, str, str]:
    """(subject, text, HTML) of the report in the active language."""
    links = attempt_links(attempt.pk)
    context = {
        "attempt": attempt,
        "mailing": attempt.mailing,
        "subject_line": attempt.mailing.message.subject,
        "reasons": failure_reasons(attempt_id=attempt.pk),
        "attempt_link": links["attempt"],
        "retry_link": links["retry_failed"] if attempt.failed_count + attempt.unknown_count else "",
        "profile_link": site_link(reverse("users:profile_edit")),
        "finished_at": timezone.localtime(attempt.finished_at) if attempt.finished_at else None,
        "site_name": settings.SITE_NAME,
    }
    subject = "".join(loader.render_to_string("emails/finish_report_subject.txt", context).splitlines()).strip()
    body = loader.render_to_string("emails/finish_report_body.txt", context)
    html = loader.render_to_string("emails/finish_report_body.html", context)
    return subject, body, html


@task(queue_name="default")
def send_finish_report(attempt_id: int) -> None:
    """Render the report in the owner's language and send it through the account email path."""
    from users.tasks import send_account_email

    attempt = Attempt.objects.select_related("mailing__owner", "mailing__message").filter(pk=attempt_id).first()
    if attempt is None:
        return
    owner = attempt.mailing.owner
    if not owner.finish_report or not owner.is_active:
        return
    with translation.override(owner.language or settings.LANGUAGE_CODE):
        subject, body, html = finish_report_render(attempt=attempt)
    # Run here: the account email task retries by enqueueing itself, which it also does when called inline.
    send_account_email.call(owner.email, subject, body, html)
