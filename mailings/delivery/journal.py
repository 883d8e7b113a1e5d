"""A task run's journal of final dots and outcomes: which messages of a killed worker really went out.

The durable hand-over mark (ledger.py) is written for a group of up to SEND_HANDOVER_GROUP deliveries before
the first one's final dot, so a killed worker leaves a whole group "handed over". The journal tells the sweep
(recovery.py) which of them reached their dot: one line appended just before each final dot, and one with the
outcome as soon as the reply is judged (the durable outcome write comes later, in batches).

Why a per-worker append-only file and not a database write: it costs one write(2) per line (microseconds), takes no
lock another worker waits for (SQLite has one writer at a time: a commit per message, even without fsync, would make
the workers queue on it once per message) and needs no database round trip. It is not forced to disk on purpose: a
process crash (SIGKILL, OOM, a segfault) cannot lose what write(2) has returned, as the kernel holds it; a power
loss or a kernel crash can. The file therefore records the host's boot id, and the sweep trusts a journal only when
it was written on the sweep's own host since its current boot: after a reboot, or on another host, the group rule
applies as before (every marked delivery unknown, never resent).

What the sweep concludes for a marked delivery of a trusted journal:
- an outcome line: that outcome (what the worker would have written);
- a dot line and no outcome: unknown (the one message in flight);
- neither: its dot never went out, so it goes back to pending and is sent once.
A line cut short by the kill is ignored: its write(2) did not return, so the dot it announced was not sent.
"""

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from mailings.models import Delivery

logger = logging.getLogger(__name__)

# The fields a journal outcome line carries: what `DeliveryLedger.flush` writes.
OUTCOME_FIELDS = ("state", "tries", "handed_over", "smtp_code", "smtp_reply", "reason", "reason_params", "message_id")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def boot_id() -> str:
    """This host's boot id (Linux); "" where there is none, and then no journal is ever trusted."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def journal_path(lease_owner: str) -> Path | None:
    directory = str(getattr(settings, "SEND_JOURNAL_DIR", "") or "")
    if not directory:
        return None
    return Path(directory) / f"{_UNSAFE.sub('_', lease_owner)}.journal"


class Journal:
    """The append-only journal of one task run (one lease owner). Opened at the first line, removed at a clean end."""

    def __init__(self, *, lease_owner: str) -> None:
        self.lease_owner = lease_owner
        self.path = journal_path(lease_owner)
        self.fd: int | None = None

    def _write(self, record: dict[str, Any]) -> None:
        """Append one line with one write(2); raises OSError (then the caller must not send the dot)."""
        self._write_line(json.dumps(record, separators=(",", ":"), ensure_ascii=False))

    def _write_line(self, line: str) -> None:
        if self.path is None:
            raise OSError("SEND_JOURNAL_DIR is not set")
        if self.fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            header = {"boot": boot_id(), "owner": self.lease_owner}
            os.write(self.fd, (json.dumps(header) + "\n").encode())
        os.write(self.fd, (line + "\n").encode())

    def dot(self, *, delivery_id: int, message_id: str) -> None:
        """Just before the final dot of this delivery's message."""
        # Once per message: written by hand, json.dumps of a dict cost a tenth of the SMTP exchange.
        self._write_line(f'{{"dot":{int(delivery_id)},"mid":{json.dumps(message_id)}}}')

    def outcome(self, d: Delivery) -> None:
        """The outcome judged from the reply, before its batched durable write.

        Best effort: without it the sweep reports the delivery unknown (its dot line is the guard).
        """
        record: dict[str, Any] = {"out": d.pk, **{name: getattr(d, name) for name in OUTCOME_FIELDS}}
        record["next_try_at"] = d.next_try_at.isoformat() if d.next_try_at else None
        record["finished_at"] = d.finished_at.isoformat() if d.finished_at else None
        try:
            self._write(record)
        except OSError as exc:
            logger.warning("journal outcome not written: delivery=%s error=%s", d.pk, exc)

    def close(self, *, remove: bool) -> None:
        """Close; `remove` once every outcome is in the database (the end of a task run that did not crash)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if remove and self.path is not None:
            self.path.unlink(missing_ok=True)


@dataclass
class JournalRead:
    """What a killed task run's journal says, if it can be trusted."""

    trusted: bool
    dots: dict[int, str] = field(default_factory=dict)
    outcomes: dict[int, dict[str, Any]] = field(default_factory=dict)


def journal_read(*, lease_owner: str) -> JournalRead:
    """Read the journal of a lease owner; untrusted when missing, unreadable or written before this boot."""
    path = journal_path(lease_owner)
    if path is None:
        return JournalRead(trusted=False)
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError:
        return JournalRead(trusted=False)
    read = JournalRead(trusted=False)
    for n, line in enumerate(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the last line, cut short by the kill (or the empty one after the last newline)
        if n == 0:
            current = boot_id()
            read.trusted = bool(current) and record.get("boot") == current and record.get("owner") == lease_owner
            if not read.trusted:
                return read
        elif "dot" in record:
            read.dots[int(record["dot"])] = str(record.get("mid") or "")
        elif "out" in record:
            read.outcomes[int(record["out"])] = record
    return read


def journal_remove(*, lease_owner: str) -> None:
    path = journal_path(lease_owner)
    if path is not None:
        path.unlink(missing_ok=True)


def outcome_values(record: dict[str, Any]) -> dict[str, Any]:
    """A journal outcome line as the column values to write."""
    values = {name: record.get(name) for name in OUTCOME_FIELDS}
    for name in ("next_try_at", "finished_at"):
        values[name] = datetime.fromisoformat(record[name]) if record.get(name) else None
    values["smtp_reply"] = values["smtp_reply"] or ""
    values["reason"] = values["reason"] or ""
    values["message_id"] = values["message_id"] or ""
    return values


def journals_remove_stale(*, idle_seconds: float = 3600.0) -> int:
    """Remove journals nobody will read: idle that long and their lease owner holds no delivery any more.

    A task run removes its journal when it ends cleanly and the sweep after reading it; this catches the
    journals of task runs that ended with an error after writing every outcome. Returns how many went.
    """
    directory = str(getattr(settings, "SEND_JOURNAL_DIR", "") or "")
    if not directory or not Path(directory).is_dir():
        return 0
    removed = 0
    cutoff = time.time() - idle_seconds
    for path in Path(directory).glob("*.journal"):
        try:
            if path.stat().st_mtime > cutoff:
                continue
            with path.open("rb") as f:
                owner = str(json.loads(f.readline() or b"{}").get("owner", ""))
        except (OSError, ValueError):
            continue
        if owner and Delivery.objects.filter(lease_owner=owner, state=Delivery.State.SENDING).exists():
            continue
        path.unlink(missing_ok=True)
        removed += 1
    if removed:
        logger.info("stale delivery journals removed: %s", removed)
    return removed
