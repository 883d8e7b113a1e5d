import signal
import threading
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.mailsink import FolderHandler


class Command(BaseCommand):
    help = "Run a local SMTP server that saves every message into a folder (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.MAILSINK_PORT)
        parser.add_argument("--dir", default=str(settings.MAILSINK_DIR))

    def handle(self, *args: Any, **options: Any) -> None:
        from pathlib import Path

        controller = Controller(FolderHandler(Path(options["dir"])), hostname=options["host"], port=options["port"])
        try:
            controller.start()
        except (OSError, RuntimeError) as exc:
            raise CommandError(f"Cannot listen on {options['host']}:{options['port']}: {exc}") from exc
        self.stdout.write(
            f"Mail sink on smtp://{options['host']}:{options['port']}, messages saved to {options['dir']}"
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        controller.stop()
