"""The per-worker journal of final dots and outcomes (mailings/delivery/journal.py)."""

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from mailings.delivery import journal as journal_module
from mailings.delivery.journal import Journal, journal_path, journal_read, journals_remove_stale, outcome_values
from mailings.models import Delivery

S = Delivery.State


@pytest.fixture
def journals(settings: Any, tmp_path: Path) -> Path:
    settings.SEND_JOURNAL_DIR = str(tmp_path / "journal")
    return tmp_path / "journal"


def test_it_reads_dots_and_outcomes_and_ignores_a_line_cut_short(journals: Path) -> None:
    journal = Journal(lease_owner="host:1:abc")
    journal.dot(delivery_id=7, message_id="<m7@example.com>")
    sent = Delivery(pk=7, state=S.SENT, tries=1, handed_over=True, smtp_code=250, smtp_reply="250 Ok", message_id="x")
    sent.finished_at = timezone.now()
    journal.outcome(sent)
    journal.dot(delivery_id=8, message_id="<m8@example.com>")
    assert journal.fd is not None
    os.write(journal.fd, b'{"dot":9,"mid":"<m9')  # killed mid-write: the dot it announced never went out
    journal.close(remove=False)
    read = journal_read(lease_owner="host:1:abc")
    assert read.trusted and set(read.dots) == {7, 8} and set(read.outcomes) == {7}
    values = outcome_values(read.outcomes[7])
    assert values["state"] == S.SENT and values["smtp_code"] == 250 and values["finished_at"] == sent.finished_at


def test_a_journal_from_another_boot_or_none_at_all_is_not_trusted(journals: Path) -> None:
    assert not journal_read(lease_owner="host:1:none").trusted
    path = journal_path("host:1:old")
    assert path is not None
    journals.mkdir()
    path.write_text(json.dumps({"boot": "another-boot", "owner": "host:1:old"}) + '\n{"dot":1,"mid":""}\n')
    read = journal_read(lease_owner="host:1:old")
    assert not read.trusted and not read.dots


def test_a_clean_end_removes_the_journal(journals: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(lease_owner="host:2:abc")
    journal.dot(delivery_id=1, message_id="")
    assert journal.path is not None and journal.path.is_file()
    journal.close(remove=True)
    assert not journal.path.exists()
    monkeypatch.setattr(journal_module, "boot_id", lambda: "")
    Journal(lease_owner="host:3:abc").dot(delivery_id=1, message_id="")
    # Where there is no boot id, nothing is ever trusted: the group rule applies.
    assert not journal_read(lease_owner="host:3:abc").trusted


@pytest.mark.django_db
def test_stale_journals_of_finished_task_runs_are_removed(journals: Path) -> None:
    for owner in ("host:4:old", "host:4:new"):
        journal = Journal(lease_owner=owner)
        journal.dot(delivery_id=1, message_id="")
        journal.close(remove=False)
    old = journal_path("host:4:old")
    assert old is not None
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert journals_remove_stale() == 1
    assert not old.exists() and sorted(p.name for p in journals.iterdir()) == ["host_4_new.journal"]
