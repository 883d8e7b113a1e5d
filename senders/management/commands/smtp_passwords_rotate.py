"""Re-encrypt every stored SMTP account password with the first key of SMTP_PASSWORD_KEY (after a key rotation)."""

import logging
from typing import Any

from django.core.management.base import BaseCommand

from senders.services import smtp_passwords_rotate

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Re-encrypt SMTP account passwords with the first key of SMTP_PASSWORD_KEY; then the old keys can go."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, failed = smtp_passwords_rotate()
        self.stdout.write(f"re-encrypted: {rotated}; not decryptable with the configured keys: {failed}")
        if failed:
            self.stdout.write("the owners of those accounts must enter their passwords again")
