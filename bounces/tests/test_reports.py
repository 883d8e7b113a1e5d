"""Reading bounce reports and complaints: the real-world samples in fixtures/ (no database)."""

import pytest

from bounces.reports import (
    AUTO_REPLY,
    COMPLAINT,
    DSN,
    HARD,
    IGNORED,
    NONSTANDARD,
    SOFT,
    UnreadableMessage,
    bounce_kind,
    report_read,
)
from bounces.tests.support import sample
from mailings.delivery.compose import delivery_ids_in, delivery_message_id

RCPT = "Ghost.User@example.org"


@pytest.mark.parametrize(
    ("name", "kind", "bounce", "status", "diagnostic"),
    [
        ("postfix", DSN, HARD, "5.1.1", "User unknown in virtual mailbox table"),
        ("exim", NONSTANDARD, HARD, "5.1.1", "No such user here"),
        ("yandex", DSN, HARD, "5.7.1", "550 5.7.1 No such user!"),
        ("mailru", NONSTANDARD, HARD, "", "account is disabled"),
        ("gmail", DSN, HARD, "5.1.1", "does not exist"),
        ("postfix_full", DSN, SOFT, "5.2.2", "552 5.2.2 Mailbox full"),
    ],
)
def test_it_reads_each_providers_bounce(name: str, kind: str, bounce: str, status: str, diagnostic: str) -> None:
    mid = delivery_message_id(delivery_id=42, domain="shop-example.ru")
    report = report_read(sample(name, rcpt=RCPT, message_id=mid))
    assert report.kind == kind and report.recognised
    assert report.delivery_ids == [42]
    [item] = report.items
    assert item.email == RCPT.lower() and item.kind == bounce and item.status == status
    assert diagnostic in item.diagnostic


def test_a_complaint_names_the_recipient_and_the_delivery() -> None:
    mid = delivery_message_id(delivery_id=7, domain="shop-example.ru")
    report = report_read(sample("arf", rcpt=RCPT, message_id=mid))
    assert report.kind == COMPLAINT and report.delivery_ids == [7]
    [item] = report.items
    assert (item.email, item.kind, item.diagnostic) == (RCPT.lower(), "complaint", "abuse")
    assert "Mail.Ru FBL" in report.reporter


def test_a_redacted_complaint_still_names_the_delivery() -> None:
    mid = delivery_message_id(delivery_id=9, domain="shop-example.ru")
    raw = sample("arf", rcpt=RCPT, message_id=mid)
    raw = raw.replace(f"Original-Rcpt-To: <{RCPT}>\n".encode(), b"").replace(f"To: {RCPT}\n".encode(), b"")
    report = report_read(raw)
    assert report.delivery_ids == [9] and [i.email for i in report.items] == [""]


@pytest.mark.parametrize("name", ["ooo", "spam"])
def test_an_auto_reply_or_spam_is_no_report(name: str) -> None:
    mid = delivery_message_id(delivery_id=42, domain="shop-example.ru")
    report = report_read(sample(name, rcpt=RCPT, message_id=mid))
    assert report.kind == (AUTO_REPLY if name == "ooo" else IGNORED)
    assert not report.recognised and report.items == []


def test_a_forged_message_id_names_no_delivery() -> None:
    genuine = delivery_message_id(delivery_id=42, domain="shop-example.ru")
    forged = genuine.replace("v1.d42.", "v1.d43.")
    assert delivery_ids_in(genuine.encode()) == [42]
    assert delivery_ids_in(forged.encode()) == []
    assert report_read(sample("postfix", rcpt=RCPT, message_id=forged)).delivery_ids == []


def test_a_delayed_notice_reports_nothing_final() -> None:
    raw = sample("postfix", rcpt=RCPT).replace(b"Action: failed", b"Action: delayed")
    report = report_read(raw)
    assert report.kind == DSN and report.items == []


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "kind"),
    [
        ("5.1.1", "550", "", HARD),
        ("5.1.10", "550", "", HARD),
        ("5.2.1", "550", "", HARD),
        ("5.2.2", "552", "", SOFT),
        ("5.7.1", "554", "message rejected as spam", SOFT),
        ("5.7.1", "550", "No such user!", HARD),
        ("4.2.2", "452", "", SOFT),
        ("", "550", "", HARD),
        ("", "421", "", SOFT),
    ],
)
def test_hard_and_soft(status: str, code: str, diagnostic: str, kind: str) -> None:
    assert bounce_kind(status, code, diagnostic) == kind


@pytest.mark.parametrize("raw", [b"", b"   \n", b"\x00\x01 binary junk"])
def test_bytes_that_are_no_message_are_refused(raw: bytes) -> None:
    with pytest.raises(UnreadableMessage):
        report_read(raw)
