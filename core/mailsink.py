"""A local SMTP server for development: accepts every message and keeps it as files.

`make run` starts it when no real mail server is configured (EMAIL_HOST empty),
so Vestnik speaks real SMTP from the first minute and nobody is mailed by accident.
"""

import email
import email.policy
import itertools
import logging
from pathlib import Path
from typing import Any

from django.utils import timezone

logger = logging.getLogger(__name__)


def _readable(raw: bytes) -> str:
    """The message as a person reads it: decoded headers and the text part."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    lines = [f"{name}: {parsed[name]}" for name in ("From", "To", "Subject", "Date", "Message-ID") if parsed[name]]
    body = parsed.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else ""
    return "\n".join(lines) + "\n\n" + text


class FolderHandler:
    """aiosmtpd handler writing each received message to `<folder>/<stamp>-<n>.eml` and `.txt`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._seq = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        base = self.folder / f"{stamp}-{next(self._seq):06d}"
        raw: bytes = envelope.original_content or envelope.content
        base.with_suffix(".eml").write_bytes(raw)
        try:
            base.with_suffix(".txt").write_text(_readable(raw), encoding="utf-8")
        except Exception:  # a message we cannot decode is still kept as .eml
            logger.exception("mailsink: could not decode %s", base.with_suffix(".eml"))
        logger.info("mailsink: message for %s saved to %s.txt", ", ".join(envelope.rcpt_tos), base)
        return "250 2.0.0 Ok: saved"
