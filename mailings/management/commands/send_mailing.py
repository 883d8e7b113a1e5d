"""`manage.py send_mailing <id> [--wait]`: start a run of a mailing from the command line.

Without --wait it only creates the run (trigger «Из командной строки») and enqueues it for the
workers, like the «Отправить сейчас» button. With --wait it also sends the run itself in this
process, with the same engine and claims as the workers (so it may share the work with running
workers safely), waking the run's retries itself while they wait for their back-off, and prints
the run's summary once every recipient is final. --timeout bounds the wait.
"""

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from mailings.delivery.engine import StopReason
from mailings.delivery.manual_runs import SendRefused, mailing_send_now
from mailings.delivery.tasks import delivery_run
from mailings.models import Attempt, Delivery, Mailing

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Отправить рассылку сейчас (запуск из командной строки)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("mailing_id", type=int, help="id рассылки")
        parser.add_argument(
            "--wait",
            action="store_true",
            help="отправить в этом процессе и дождаться завершения попытки, затем вывести итог",
        )
        parser.add_argument("--timeout", type=float, default=None, help="не ждать дольше стольких секунд")

    def handle(self, *args: Any, mailing_id: int, wait: bool, timeout: float | None, **options: Any) -> None:
        mailing = Mailing.objects.select_related("owner", "message").filter(pk=mailing_id).first()
        if mailing is None:
            raise CommandError(_("Рассылка #%(pk)s не найдена.") % {"pk": mailing_id})
        try:
            attempt = mailing_send_now(mailing=mailing, trigger=Attempt.Trigger.COMMAND)
        except SendRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            _("Запущена попытка #%(attempt)s рассылки #%(mailing)s: получателей %(count)s.")
            % {"attempt": attempt.pk, "mailing": mailing.pk, "count": attempt.total_count}
        )
        if not wait:
            return
        give_up_at = None if timeout is None else time.monotonic() + timeout
        budget = float(settings.SEND_TASK_MAX_SECONDS)
        while True:
            remaining = None if give_up_at is None else give_up_at - time.monotonic()
            # The budget is checked between batches; a message in hand still ends by its own deadline.
            verdict = delivery_run(
                attempt_id=attempt.pk, max_seconds=budget if remaining is None else max(0.0, min(budget, remaining))
            )
            attempt.refresh_from_db()
            if attempt.is_final:
                break
            if give_up_at is not None and time.monotonic() >= give_up_at:
                raise CommandError(
                    _("Попытка #%(pk)s ещё не завершена (ожидание прервано по --timeout).") % {"pk": attempt.pk}
                )
            if verdict not in (StopReason.BUDGET, StopReason.STOPPED):
                # Waiting for a retry's back-off, the breaker or a sending limit: nap until it is due.
                nap = self._nap(attempt)
                if give_up_at is not None:
                    nap = max(0.0, min(nap, give_up_at - time.monotonic()))
                time.sleep(nap)
        self.stdout.write(self._summary(attempt))

    @staticmethod
    def _nap(attempt: Attempt) -> float:
        due = (
            Delivery.objects.filter(attempt=attempt, next_try_at__isnull=False)
            .exclude(state__in=Delivery.FINAL_STATES)
            .order_by("next_try_at")
            .values_list("next_try_at", flat=True)
            .first()
        )
        if due is None:
            return POLL_SECONDS
        return max(0.1, min(60.0, (due - timezone.now()).total_seconds()))

    @staticmethod
    def _summary(attempt: Attempt) -> str:
        return _(
            "Попытка #%(pk)s: %(status)s. Доставлено %(sent)s из %(total)s, не доставлено %(failed)s, "
            "неизвестно %(unknown)s, пропущено %(skipped)s.\nОтвет почтового сервера: %(response)s"
        ) % {
            "pk": attempt.pk,
            "status": attempt.get_status_display(),
            "sent": attempt.sent_count,
            "total": attempt.total_count,
            "failed": attempt.failed_count,
            "unknown": attempt.unknown_count,
            "skipped": attempt.skipped_count,
            "response": attempt.server_response or "—",
        }
