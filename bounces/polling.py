"""Reading an owner's bounce mailbox over IMAP (imapclient), in the worker only.

New messages are those above the last UID seen (under the folder's UIDVALIDITY) that do not carry the
processed keyword. A recognised report is flagged \\Seen and `$VestnikProcessed` (deleted only with
BOUNCE_DELETE_PROCESSED); anything else is left as it was and counted as unrecognised once. The last UID is
saved after every message, so a poll that dies half-way neither skips nor double-counts; a report read twice
is recorded once (Bounce.report_digest). No database transaction is held open across the network.
"""

import contextlib
import logging
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from imapclient import DELETED, SEEN, IMAPClient
from imapclient.exceptions import IMAPClientError

from bounces.models import Bounce, BounceMailbox
from bounces.reports import UnreadableMessage
from bounces.services import OwnerUnknown, report_ingest
from core.data_versions import data_version_bump
from senders.crypto import PasswordUndecryptable, password_decrypt

logger = logging.getLogger(__name__)

FETCH_BATCH = 20
ERROR_MAX_CHARS = 500


@dataclass
class PollResult:
    ok: bool
    processed: int = 0
    unrecognised: int = 0
    error: str = ""


def _connect(mailbox: BounceMailbox) -> IMAPClient:
    timeout = float(settings.BOUNCE_IMAP_TIMEOUT)
    context = ssl.create_default_context()
    if mailbox.security == BounceMailbox.Security.SSL:
        return IMAPClient(mailbox.host, port=mailbox.port, ssl=True, ssl_context=context, timeout=timeout)
    client = IMAPClient(mailbox.host, port=mailbox.port, ssl=False, timeout=timeout)
    if mailbox.security == BounceMailbox.Security.STARTTLS:
        client.starttls(ssl_context=context)
    return client


def mailbox_poll(*, mailbox_id: int) -> PollResult:
    """Read the mailbox's new messages now and store the outcome on it; never raises for IMAP trouble."""
    mailbox = BounceMailbox.objects.filter(pk=mailbox_id).first()
    if mailbox is None:
        return PollResult(ok=False, error="mailbox deleted")
    result = PollResult(ok=True)
    try:
        if mailbox.owner_id is None:  # the service mailbox: its password lives in the environment only
            password = str(settings.BOUNCE_SERVICE_IMAP_PASSWORD)
        else:
            password = password_decrypt(mailbox.password_encrypted)
        client = _connect(mailbox)
        try:
            client.login(mailbox.login, password)
            _read_new(client, mailbox, result)
        finally:
            with contextlib.suppress(IMAPClientError, OSError):
                client.logout()
    except PasswordUndecryptable:
        result.ok, result.error = False, "password cannot be decrypted: enter it again"
    except (TimeoutError, IMAPClientError, OSError, ssl.SSLError) as exc:
        result.ok, result.error = False, f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
    now = timezone.now()
    BounceMailbox.objects.filter(pk=mailbox_id).update(
        polled_at=now,
        checked_at=now,
        check_status=BounceMailbox.CheckStatus.OK if result.ok else BounceMailbox.CheckStatus.FAILED,
        last_error=result.error,
    )
    if mailbox.owner_id is not None:
        data_version_bump(owner_id=mailbox.owner_id)
    log = logger.info if result.ok else logger.warning
    log(
        "bounce mailbox polled: mailbox=%s ok=%s processed=%s unrecognised=%s error=%s",
        mailbox_id,
        result.ok,
        result.processed,
        result.unrecognised,
        result.error,
    )
    return result


def _read_new(client: IMAPClient, mailbox: BounceMailbox, result: PollResult) -> None:
    selected = client.select_folder(mailbox.folder)
    uidvalidity = int(selected.get(b"UIDVALIDITY", 0))
    last_uid = mailbox.last_uid if mailbox.uidvalidity == uidvalidity else 0
    if mailbox.uidvalidity != uidvalidity:
        BounceMailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=uidvalidity, last_uid=0)
    keyword = BounceMailbox.PROCESSED_KEYWORD
    # A server that keeps no custom keywords (PERMANENTFLAGS without \*) gets \Seen only; the last UID still
    # keeps a report from being read twice.
    marks = [SEEN, keyword.encode()] if b"\\*" in tuple(selected.get(b"PERMANENTFLAGS", ())) else [SEEN]
    # "n:*" always matches the last message, even below n: hence the filter.
    uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*", "NOT", "KEYWORD", keyword]) if u > last_uid)
    delete = bool(settings.BOUNCE_DELETE_PROCESSED)
    for start in range(0, len(uids), FETCH_BATCH):
        batch = uids[start : start + FETCH_BATCH]
        fetched = client.fetch(batch, ["BODY.PEEK[]"])
        for uid in batch:
            raw = fetched.get(uid, {}).get(b"BODY[]")
            recognised = isinstance(raw, bytes) and _ingest(raw, mailbox=mailbox, uid=uid)
            if recognised:
                client.add_flags([uid], marks)
                if delete:
                    client.add_flags([uid], [DELETED])
                result.processed += 1
            else:
                result.unrecognised += 1
            BounceMailbox.objects.filter(pk=mailbox.pk).filter(Q(last_uid__lt=uid)).update(
                last_uid=uid,
                processed_count=F("processed_count") + int(recognised),
                unrecognised_count=F("unrecognised_count") + int(not recognised),
            )
    if delete and result.processed:
        client.expunge()


def _ingest(raw: bytes, *, mailbox: BounceMailbox, uid: int) -> bool:
    """True when the message was a bounce report or complaint (recorded, matched or not)."""
    try:
        return report_ingest(raw=raw, owner_id=mailbox.owner_id, source=Bounce.Source.IMAP).recognised
    except OwnerUnknown:
        # The service mailbox: a report about mail that was not a mailing's (an account email), or someone
        # else's. Read and flagged, recorded nowhere.
        return True
    except UnreadableMessage:
        return False
    except Exception:  # one malformed message must not stop the mailbox: leave it, go on
        logger.exception("bounce report not processed: mailbox=%s uid=%s", mailbox.pk, uid)
        return False


def service_mailbox_sync() -> BounceMailbox | None:
    """Keep the service mailbox's row in step with BOUNCE_SERVICE_IMAP_*; None (and the row disabled) when unset."""
    host = str(settings.BOUNCE_SERVICE_IMAP_HOST).strip()
    if not host:
        BounceMailbox.objects.filter(owner__isnull=True, is_enabled=True).update(is_enabled=False)
        return None
    values = {
        "host": host,
        "port": int(settings.BOUNCE_SERVICE_IMAP_PORT),
        "security": str(settings.BOUNCE_SERVICE_IMAP_SECURITY),
        "login": str(settings.BOUNCE_SERVICE_IMAP_LOGIN),
        "folder": str(settings.BOUNCE_SERVICE_IMAP_FOLDER) or "INBOX",
    }
    mailbox = BounceMailbox.objects.filter(owner__isnull=True).first()
    if mailbox is None:
        try:
            with transaction.atomic():
                return BounceMailbox.objects.create(owner=None, is_enabled=True, **values)
        except IntegrityError:  # another scheduler made it first (bouncemailbox_one_service_mailbox)
            mailbox = BounceMailbox.objects.get(owner__isnull=True)
    moved = any(getattr(mailbox, name) != value for name, value in values.items() if name != "security")
    changes: dict[str, object] = {**values, "is_enabled": True}
    if moved:
        changes.update(uidvalidity=None, last_uid=0)
    BounceMailbox.objects.filter(pk=mailbox.pk).update(**changes)
    mailbox.refresh_from_db()
    return mailbox


def bounce_polls_due(*, now: datetime) -> list[int]:
    """Claim the enabled mailboxes due for a poll (one conditional UPDATE each); returns their ids."""
    stale = now - timedelta(seconds=int(settings.BOUNCE_POLL_SECONDS))
    claimed: list[int] = []
    due = BounceMailbox.objects.filter(is_enabled=True).filter(Q(polled_at__isnull=True) | Q(polled_at__lt=stale))
    for pk in due.values_list("pk", flat=True):
        won = (
            BounceMailbox.objects.filter(pk=pk)
            .filter(Q(poll_requested_at__isnull=True) | Q(poll_requested_at__lt=stale))
            .update(poll_requested_at=now)
        )
        if won:
            claimed.append(pk)
    return claimed
