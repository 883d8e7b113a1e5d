"""Polling a real IMAP mailbox (Dovecot) holding real-world bounce reports, complaints, an auto-reply and spam."""

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from bounces.mailboxes import MailboxSettings, bounce_mailbox_save
from bounces.models import Bounce, BounceMailbox
from bounces.polling import bounce_polls_due, mailbox_poll, service_mailbox_sync
from bounces.tests.dovecot import PASSWORD, Dovecot
from bounces.tests.support import sample
from mailings.delivery.compose import delivery_message_id
from mailings.models import Attempt, Delivery
from mailings.tests.world import make_attempt, make_mailing
from suppressions.models import Suppression
from users.models import User

pytestmark = pytest.mark.django_db

_logins = itertools.count(1)
PROCESSED = BounceMailbox.PROCESSED_KEYWORD.encode()


def _mailbox(dovecot: Dovecot, owner: User) -> BounceMailbox:
    login = dovecot.user(f"bounces{next(_logins)}@shop-example.ru")
    values = MailboxSettings(host="127.0.0.1", port=dovecot.port, security="none", login=login)
    return bounce_mailbox_save(owner=owner, values=values, password=PASSWORD)


def _sent(owner: User, count: int) -> list[Delivery]:
    attempt = make_attempt(make_mailing(owner), states=["sent"] * count)
    deliveries = list(attempt.deliveries.order_by("pk"))
    Delivery.objects.filter(attempt=attempt).update(finished_at=timezone.now())
    return deliveries


def _mid(delivery: Delivery) -> str:
    return delivery_message_id(delivery_id=delivery.pk, domain="shop-example.ru")


def test_one_poll_records_every_provider_and_leaves_the_rest_alone(dovecot: Dovecot, owner: User, caplog: Any) -> None:
    mailbox = _mailbox(dovecot, owner)
    names = ["postfix", "exim", "yandex", "mailru", "gmail", "arf"]
    deliveries = _sent(owner, len(names) + 2)
    for name, d in zip(names, deliveries, strict=False):
        dovecot.append(mailbox.login, sample(name, rcpt=d.email, message_id=_mid(d)))
    ooo_to, spam_to = deliveries[-2], deliveries[-1]
    dovecot.append(mailbox.login, sample("ooo", rcpt=ooo_to.email, message_id=_mid(ooo_to)))
    dovecot.append(mailbox.login, sample("spam", rcpt=spam_to.email))

    result = mailbox_poll(mailbox_id=mailbox.pk)

    assert result.ok and (result.processed, result.unrecognised) == (6, 2)
    bounces = {b.delivery_id: b for b in Bounce.objects.filter(owner=owner)}
    assert set(bounces) == {d.pk for d in deliveries[:6]}
    kinds = [bounces[d.pk].kind for d in deliveries[:6]]
    assert kinds == ["hard", "hard", "hard", "hard", "hard", "complaint"]
    assert "User unknown" in bounces[deliveries[0].pk].diagnostic and bounces[deliveries[0].pk].status == "5.1.1"
    marked = dict(Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).values_list("pk", "bounce"))
    assert [marked[d.pk] for d in deliveries] == ["hard"] * 5 + ["complaint", "", ""]
    attempt = Attempt.objects.get(pk=deliveries[0].attempt_id)
    assert (attempt.bounced_count, attempt.complaint_count) == (5, 1)
    # Reports are flagged, never deleted; the auto-reply and the spam stay unread and unflagged.
    flags = dovecot.flags(mailbox.login)
    assert len(flags) == 8
    for uid in sorted(flags)[:6]:
        assert b"\\Seen" in flags[uid] and PROCESSED in flags[uid]
    for uid in sorted(flags)[6:]:
        assert b"\\Seen" not in flags[uid] and PROCESSED not in flags[uid]
    mailbox.refresh_from_db()
    assert (mailbox.processed_count, mailbox.unrecognised_count) == (6, 2)
    assert mailbox.check_status == "ok" and mailbox.last_error == "" and mailbox.last_uid == max(flags)
    # Hard bounces and the complaint suppress; the auto-reply's and the spam's addresses stay mailable.
    suppressed = dict(Suppression.objects.filter(owner=owner).values_list("email_key", "source"))
    assert suppressed == {
        **{d.email.lower(): "bounce_hard" for d in deliveries[:5]},
        deliveries[5].email.lower(): "complaint",
    }


def test_a_second_poll_reads_only_new_messages(dovecot: Dovecot, owner: User) -> None:
    mailbox = _mailbox(dovecot, owner)
    first, second = _sent(owner, 2)
    dovecot.append(mailbox.login, sample("postfix", rcpt=first.email, message_id=_mid(first)))
    dovecot.append(mailbox.login, sample("spam", rcpt=first.email))
    mailbox_poll(mailbox_id=mailbox.pk)
    dovecot.append(mailbox.login, sample("gmail", rcpt=second.email, message_id=_mid(second)))
    result = mailbox_poll(mailbox_id=mailbox.pk)
    assert (result.processed, result.unrecognised) == (1, 0)
    mailbox.refresh_from_db()
    assert (mailbox.processed_count, mailbox.unrecognised_count) == (2, 1)
    assert Bounce.objects.filter(owner=owner).count() == 2


def test_the_same_report_read_twice_is_recorded_once(dovecot: Dovecot, owner: User) -> None:
    mailbox = _mailbox(dovecot, owner)
    [d] = _sent(owner, 1)
    raw = sample("postfix", rcpt=d.email, message_id=_mid(d))
    dovecot.append(mailbox.login, raw)
    mailbox_poll(mailbox_id=mailbox.pk)
    # A poll that died before saving its place reads the folder again (a new UIDVALIDITY looks the same).
    BounceMailbox.objects.filter(pk=mailbox.pk).update(last_uid=0, uidvalidity=None)
    dovecot.append(mailbox.login, raw)  # and the relay sent the very same report twice
    mailbox_poll(mailbox_id=mailbox.pk)
    assert Bounce.objects.filter(delivery=d).count() == 1
    assert Attempt.objects.get(pk=d.attempt_id).bounced_count == 1


def test_soft_bounces_mark_the_delivery_and_count_towards_the_limit(
    dovecot: Dovecot, owner: User, settings: Any
) -> None:
    settings.BOUNCE_SOFT_LIMIT = 2
    mailbox = _mailbox(dovecot, owner)
    deliveries = _sent(owner, 2)
    Delivery.objects.filter(pk=deliveries[1].pk).update(email=deliveries[0].email)
    dovecot.append(mailbox.login, sample("postfix_full", rcpt=deliveries[0].email, message_id=_mid(deliveries[0])))
    mailbox_poll(mailbox_id=mailbox.pk)
    assert not Suppression.objects.exists()  # one mailbox-full report says nothing final
    dovecot.append(mailbox.login, sample("postfix_full", rcpt=deliveries[0].email, message_id=_mid(deliveries[1])))
    mailbox_poll(mailbox_id=mailbox.pk)
    assert list(Bounce.objects.filter(owner=owner).values_list("kind", flat=True)) == ["soft", "soft"]
    assert Delivery.objects.get(pk=deliveries[0].pk).bounce == "soft"
    # The second one reaches BOUNCE_SOFT_LIMIT.
    [entry] = Suppression.objects.filter(owner=owner)
    assert (entry.email_key, entry.source) == (deliveries[0].email.lower(), Suppression.Source.BOUNCE_SOFT)


def test_a_report_for_another_owners_delivery_matches_nothing(dovecot: Dovecot, owner: User, other_user: User) -> None:
    mailbox = _mailbox(dovecot, owner)
    [theirs] = _sent(other_user, 1)
    dovecot.append(mailbox.login, sample("postfix", rcpt=theirs.email, message_id=_mid(theirs)))
    result = mailbox_poll(mailbox_id=mailbox.pk)
    assert result.processed == 1 and not Bounce.objects.exists()
    assert Delivery.objects.get(pk=theirs.pk).bounce == ""


def test_without_our_message_id_the_address_and_a_recent_delivery_match(dovecot: Dovecot, owner: User) -> None:
    mailbox = _mailbox(dovecot, owner)
    [d] = _sent(owner, 1)
    dovecot.append(mailbox.login, sample("exim", rcpt=d.email.upper()))
    mailbox_poll(mailbox_id=mailbox.pk)
    assert Bounce.objects.get().delivery_id == d.pk


def test_processed_reports_are_deleted_only_when_asked(dovecot: Dovecot, owner: User, settings: Any) -> None:
    settings.BOUNCE_DELETE_PROCESSED = True
    mailbox = _mailbox(dovecot, owner)
    [d] = _sent(owner, 1)
    dovecot.append(mailbox.login, sample("postfix", rcpt=d.email, message_id=_mid(d)))
    dovecot.append(mailbox.login, sample("ooo", rcpt=d.email, message_id=_mid(d)))
    mailbox_poll(mailbox_id=mailbox.pk)
    assert len(dovecot.flags(mailbox.login)) == 1  # the auto-reply stays


def test_a_wrong_password_is_kept_as_the_mailboxs_error(dovecot: Dovecot, owner: User) -> None:
    mailbox = _mailbox(dovecot, owner)
    bounce_mailbox_save(
        owner=owner,
        values=MailboxSettings(host="127.0.0.1", port=dovecot.port, security="none", login=mailbox.login),
        password="wrong",
    )
    result = mailbox_poll(mailbox_id=mailbox.pk)
    mailbox.refresh_from_db()
    assert not result.ok and mailbox.check_status == "failed" and "LoginError" in mailbox.last_error


def test_a_closed_port_is_an_error_not_a_crash(owner: User) -> None:
    from mailings.tests.sending_support import free_port

    values = MailboxSettings(host="127.0.0.1", port=free_port(), security="ssl", login="x")
    mailbox = bounce_mailbox_save(owner=owner, values=values, password="p")
    assert not mailbox_poll(mailbox_id=mailbox.pk).ok
    mailbox.refresh_from_db()
    assert mailbox.check_status == "failed" and mailbox.last_error


def test_due_polls_are_claimed_once(owner: User, other_user: User, settings: Any) -> None:
    values = MailboxSettings(host="127.0.0.1", port=993, security="ssl", login="x")
    first = bounce_mailbox_save(owner=owner, values=values, password="p")
    off = bounce_mailbox_save(owner=other_user, values=values, password="p")
    BounceMailbox.objects.filter(pk=off.pk).update(is_enabled=False)
    now = timezone.now()
    assert bounce_polls_due(now=now) == [first.pk]
    assert bounce_polls_due(now=now) == []  # already enqueued
    later = now + timedelta(seconds=settings.BOUNCE_POLL_SECONDS + 1)
    assert bounce_polls_due(now=later) == [first.pk]


def test_the_service_mailbox_credits_each_report_to_the_owner_its_message_id_names(
    dovecot: Dovecot, owner: User, other_user: User, settings: Any
) -> None:
    login = dovecot.user("service-bounces@vestnik.example")
    settings.BOUNCE_SERVICE_IMAP_HOST = "127.0.0.1"
    settings.BOUNCE_SERVICE_IMAP_PORT = dovecot.port
    settings.BOUNCE_SERVICE_IMAP_SECURITY = "none"
    settings.BOUNCE_SERVICE_IMAP_LOGIN = login
    settings.BOUNCE_SERVICE_IMAP_PASSWORD = PASSWORD
    mailbox = service_mailbox_sync()
    assert mailbox is not None and mailbox.owner_id is None and service_mailbox_sync() == mailbox
    [mine], [theirs] = _sent(owner, 1), _sent(other_user, 1)
    dovecot.append(login, sample("postfix", rcpt=mine.email, message_id=_mid(mine)))
    dovecot.append(login, sample("arf", rcpt=theirs.email, message_id=_mid(theirs)))
    # A bounce of an account email (no delivery of ours): read and flagged, recorded nowhere.
    dovecot.append(login, sample("gmail", rcpt="new-user@example.org"))
    result = mailbox_poll(mailbox_id=mailbox.pk)
    assert (result.processed, result.unrecognised) == (3, 0)
    found = set(Bounce.objects.values_list("owner_id", "delivery_id", "kind"))
    assert found == {(owner.pk, mine.pk, "hard"), (other_user.pk, theirs.pk, "complaint")}
    assert set(Suppression.objects.values_list("owner_id", "source")) == {
        (owner.pk, "bounce_hard"),
        (other_user.pk, "complaint"),
    }
    settings.BOUNCE_SERVICE_IMAP_HOST = ""
    assert service_mailbox_sync() is None
    assert not BounceMailbox.objects.get(pk=mailbox.pk).is_enabled
