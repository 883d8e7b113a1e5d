"""Done when (issue 19): a mailing to an address that does not exist ends bounced and suppressed within one poll.

The relay (a real SMTP server) says 250; its DSN, built around the Message-ID the relay really received,
lands in the owner's real IMAP mailbox (Dovecot); one poll records it.
"""

import pytest

from bounces.mailboxes import MailboxSettings, bounce_mailbox_save
from bounces.models import Bounce
from bounces.polling import mailbox_poll
from bounces.tests.dovecot import PASSWORD, Dovecot
from bounces.tests.support import sample
from mailings.delivery.engine import attempt_deliver
from mailings.models import Delivery
from mailings.tests.sending_support import make_run
from suppressions.models import Suppression
from tests.support import SmtpServer
from users.models import User

pytestmark = pytest.mark.django_db

GHOST = "no-such-user@example.org"


def test_a_missing_mailbox_is_bounced_and_suppressed_within_one_poll(
    dovecot: Dovecot, server: SmtpServer, owner: User
) -> None:
    _mailing, attempt = make_run(owner, ["alive@example.org", GHOST])
    attempt_deliver(attempt_id=attempt.pk)
    ghost = Delivery.objects.get(attempt=attempt, email=GHOST)
    assert ghost.state == Delivery.State.SENT and ghost.smtp_code == 250  # the relay took it
    [received] = server.handler.to(GHOST)
    message_id = received.parsed["Message-ID"]
    assert message_id == ghost.message_id and f".d{ghost.pk}." in message_id

    login = dovecot.user("shop-bounces@example.ru")
    mailbox = bounce_mailbox_save(
        owner=owner,
        values=MailboxSettings(host="127.0.0.1", port=dovecot.port, security="none", login=login),
        password=PASSWORD,
    )
    dovecot.append(login, sample("postfix", rcpt=GHOST, message_id=message_id))

    result = mailbox_poll(mailbox_id=mailbox.pk)

    assert result.ok and result.processed == 1
    ghost.refresh_from_db()
    assert ghost.bounce == Delivery.Bounce.HARD and ghost.is_bounced and ghost.bounced_at is not None
    bounce = Bounce.objects.get(delivery=ghost)
    assert (bounce.kind, bounce.status, bounce.email) == ("hard", "5.1.1", GHOST)
    assert "550 5.1.1" in bounce.diagnostic and "User unknown" in bounce.diagnostic
    attempt.refresh_from_db()
    assert attempt.bounced_count == 1
    assert Delivery.objects.get(attempt=attempt, email="alive@example.org").bounce == ""
    _assert_suppressed(owner, GHOST)


def _assert_suppressed(owner: User, email: str) -> None:
    entry = Suppression.objects.get(owner=owner, email_key=email.lower())
    assert entry.source == Suppression.Source.BOUNCE_HARD and "550 5.1.1" in entry.detail
