"""`manage.py ledger_check [--repair]`: compare the attempts' counters by state with the deliveries table.

The counters (mailings/delivery/counts.py) are kept as the ledger is written, so they should never differ;
this command reads the whole ledger to prove it, prints every difference (attempt, column, stored, counted)
and exits with code 1 when there is one. With --repair it also writes the counts from the ledger. Safe while
runs are sending: each difference is confirmed by a locked re-read of that attempt before it is reported.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from mailings.delivery.counts import ledger_check


class Command(BaseCommand):
    help = "Сверить счётчики попыток с журналом доставок (и исправить с --repair)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repair", action="store_true", help="записать счётчики, пересчитанные по журналу")

    def handle(self, *args: Any, repair: bool, **options: Any) -> None:
        differences = ledger_check(repair=repair)
        for attempt_id, diff in sorted(differences.items()):
            for column, (stored, counted) in sorted(diff.items()):
                self.stdout.write(
                    _("попытка %(attempt)s: %(column)s = %(stored)s, по журналу %(counted)s")
                    % {"attempt": attempt_id, "column": column, "stored": stored, "counted": counted}
                )
        if not differences:
            self.stdout.write(_("Счётчики совпадают с журналом доставок."))
            return
        if repair:
            self.stdout.write(_("Исправлено попыток: %(count)s.") % {"count": len(differences)})
            return
        raise CommandError(
            _("Счётчики расходятся с журналом у попыток: %(count)s (исправить: --repair).")
            % {"count": len(differences)}
        )
