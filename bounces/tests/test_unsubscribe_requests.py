"""A mailto unsubscribe (List-Unsubscribe's `mailto:` part) read from a real IMAP mailbox and from stdin."""

import io
import re
import sys
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote

import pytest
from django.core.management import call_command

from bounces.mailboxes import MailboxSettings, bounce_mailbox_save
from bounces.models import Bounce, BounceMailbox
from bounces.polling import mailbox_poll, service_mailbox_sync
from bounces.tests.dovecot import PASSWORD, Dovecot
from bounces.unsubscribe_requests import unsubscribe_request_read
from suppressions.links import unsubscribe_links
from suppressions.models import Suppression
from suppressions.tokens import token_make
from users.models import User

pytestmark = pytest.mark.django_db

MAILTO = "unsubscribe@vestnik.example"
PROCESSED = BounceMailbox.PROCESSED_KEYWORD.encode()


@pytest.fixture(autouse=True)
def _mailto(settings: Any) -> None:
    settings.UNSUBSCRIBE_MAILTO = MAILTO


def _request(owner: User, address: str, *, to: str = MAILTO, mailing_id: int | None = None) -> bytes:
    """What a mail client sends for the mailto: of the message's real List-Unsubscribe header."""
    _page, headers = unsubscribe_links(owner_id=owner.pk, email=address, mailing_id=mailing_id)
    match = re.search(r"<mailto:([^?>]+)\?subject=([^>]+)>", dict(headers)["List-Unsubscribe"])
    assert match is not None and match.group(1) == MAILTO
    msg = EmailMessage()
    msg["From"] = address
    msg["To"] = to
    msg["Subject"] = unquote(match.group(2))
    msg.set_content("")
    return msg.as_bytes()


def _forged(owner: User, address: str) -> bytes:
    token = token_make(owner_id=owner.pk, email=address)
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = address, MAILTO, f"unsubscribe {forged}"
    msg.set_content("")
    return msg.as_bytes()


def test_the_request_is_read_from_the_subject_or_a_reply_body(owner: User) -> None:
    token = unsubscribe_request_read(_request(owner, "Reader@Example.org", mailing_id=7))
    assert token is not None and (token.owner_id, token.mailing_id, token.email) == (owner.pk, 7, "Reader@Example.org")
    # A person replying by hand: the token sits in the quoted body, the subject says something else.
    real = token_make(owner_id=owner.pk, email="a@example.org")
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = "a@example.org", f"Отписка <{MAILTO}>", "Re: отпишите меня"
    reply.set_content(f"Отпишите, пожалуйста.\n> unsubscribe {real}\n")
    token = unsubscribe_request_read(reply.as_bytes())
    assert token is not None and token.email == "a@example.org"


def test_other_addresses_forgeries_and_an_unset_address_are_no_request(owner: User, settings: Any) -> None:
    assert unsubscribe_request_read(_request(owner, "a@example.org", to="sales@vestnik.example")) is None
    assert unsubscribe_request_read(_forged(owner, "a@example.org")) is None
    raw = _request(owner, "a@example.org")
    settings.UNSUBSCRIBE_MAILTO = ""
    assert unsubscribe_request_read(raw) is None


def test_the_service_mailbox_unsubscribes_and_leaves_a_forgery_alone(
    dovecot: Dovecot, settings: Any, owner: User, other_user: User
) -> None:
    login = dovecot.user("service-unsubscribe@vestnik.example")
    settings.BOUNCE_SERVICE_IMAP_HOST = "127.0.0.1"
    settings.BOUNCE_SERVICE_IMAP_PORT = dovecot.port
    settings.BOUNCE_SERVICE_IMAP_SECURITY = "none"
    settings.BOUNCE_SERVICE_IMAP_LOGIN = login
    settings.BOUNCE_SERVICE_IMAP_PASSWORD = PASSWORD
    mailbox = service_mailbox_sync()
    assert mailbox is not None
    dovecot.append(login, _request(owner, "Reader@Example.org"))
    dovecot.append(login, _request(other_user, "other@example.org"))
    dovecot.append(login, _forged(owner, "victim@example.org"))

    result = mailbox_poll(mailbox_id=mailbox.pk)

    assert result.ok and (result.processed, result.unrecognised) == (2, 1)
    found = set(Suppression.objects.values_list("owner_id", "email_key", "source"))
    assert found == {(owner.pk, "reader@example.org", "mailto"), (other_user.pk, "other@example.org", "mailto")}
    assert not Bounce.objects.exists()
    flags = dovecot.flags(login)
    uids = sorted(flags)
    assert all(PROCESSED in flags[uid] and b"\\Seen" in flags[uid] for uid in uids[:2])
    assert PROCESSED not in flags[uids[2]] and b"\\Seen" not in flags[uids[2]]
    settings.BOUNCE_SERVICE_IMAP_HOST = ""
    service_mailbox_sync()


def test_an_owners_mailbox_honours_the_token_it_receives(dovecot: Dovecot, owner: User) -> None:
    login = dovecot.user("owner-unsubscribe@shop-example.ru")
    values = MailboxSettings(host="127.0.0.1", port=dovecot.port, security="none", login=login)
    mailbox = bounce_mailbox_save(owner=owner, values=values, password=PASSWORD)
    dovecot.append(login, _request(owner, "reader@example.org"))
    result = mailbox_poll(mailbox_id=mailbox.pk)
    assert (result.processed, result.unrecognised) == (1, 0)
    assert Suppression.objects.get().source == "mailto"


def _run(monkeypatch: Any, raw: bytes) -> str:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()
    call_command("bounce_ingest", stdout=out)
    return out.getvalue()


def test_the_stdin_command_unsubscribes_without_owner_and_ignores_a_forgery(monkeypatch: Any, owner: User) -> None:
    out = _run(monkeypatch, _request(owner, "reader@example.org"))
    assert f"unsubscribed (mailto): reader@example.org owner={owner.pk}" in out
    entry = Suppression.objects.get()
    assert (entry.owner_id, entry.email_key, entry.source) == (owner.pk, "reader@example.org", "mailto")
    # The same request again: still one entry.
    _run(monkeypatch, _request(owner, "reader@example.org"))
    assert Suppression.objects.count() == 1
    out = _run(monkeypatch, _forged(owner, "victim@example.org"))
    assert "not a bounce report or complaint" in out and Suppression.objects.count() == 1
