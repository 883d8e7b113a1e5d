"""`manage.py bounce_ingest [--owner ID] < message.eml`: record one bounce report or complaint piped in.

For a mail server that receives the bounces itself (Postfix: a pipe transport, README «Возвраты»). Exit
status 0 when the message was read (recorded, or matching nothing of ours, or not a report at all: an
out-of-office reply must not make the mail server retry or bounce it); 1 on bad input (empty, not a message,
unknown owner, a report naming no delivery of ours without --owner).
"""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bounces.models import Bounce
from bounces.reports import UnreadableMessage
from bounces.services import OwnerUnknown, report_ingest
from users.models import User

# Bigger is no bounce report: a mail server piping something huge by mistake gets a clear refusal.
MAX_BYTES = 10 * 1024 * 1024


class Command(BaseCommand):
    help = (
        "Read one bounce report (DSN), complaint (ARF) or mailto unsubscribe request from standard input and record it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--owner",
            type=int,
            help="The owner's user id; without it the report's own Message-ID must name one of our deliveries.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        owner_id: int | None = options["owner"]
        if owner_id is not None and not User.objects.filter(pk=owner_id).exists():
            raise CommandError(f"no user with id {owner_id}")
        raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise CommandError(f"the message is larger than {MAX_BYTES} bytes")
        try:
            result = report_ingest(raw=raw, owner_id=owner_id, source=Bounce.Source.STDIN)
        except UnreadableMessage as exc:
            raise CommandError(f"not an email message: {exc}") from exc
        except OwnerUnknown as exc:
            raise CommandError(
                "the report names no delivery of ours; pass --owner ID to match it by the recipient's address"
            ) from exc
        if result.unsubscribed is not None:
            entry = result.unsubscribed
            self.stdout.write(f"unsubscribed (mailto): {entry.email} owner={entry.owner_id}")
            return
        if not result.recognised:
            self.stdout.write(f"not a bounce report or complaint ({result.report.kind}): nothing recorded")
            return
        for bounce in result.recorded:
            self.stdout.write(f"recorded: {bounce.email} {bounce.kind} {bounce.status} delivery={bounce.delivery_id}")
        for address in result.unmatched:
            self.stdout.write(f"no delivery of ours for: {address or '(address hidden)'}")
        if not result.recorded and not result.unmatched:
            self.stdout.write("recognised, already recorded or nothing final in it")
