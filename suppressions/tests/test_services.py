"""The suppression list: adding is idempotent per (owner, address), matching ignores case, runs leave it out."""

from typing import Any

import pytest
from django.utils import translation

from mailings.delivery.counts import attempt_counts_from_ledger
from mailings.delivery.engine import StopReason, attempt_deliver
from mailings.models import Attempt, Delivery
from mailings.tests.sending_support import make_run, states
from suppressions.models import Suppression, SuppressionLift
from suppressions.services import (
    is_suppressed,
    suppressed_emails,
    suppression_add,
    suppression_lift,
)
from tests.support import SmtpServer
from users.models import User

pytestmark = pytest.mark.django_db


def test_adding_is_idempotent_per_owner_and_address_whatever_the_case(owner: User, other_user: User) -> None:
    first = suppression_add(owner_id=owner.pk, email="Anna@Example.com", source=Suppression.Source.LINK)
    again = suppression_add(owner_id=owner.pk, email=" anna@example.COM ", source=Suppression.Source.OWNER)
    assert again.pk == first.pk
    assert again.source == Suppression.Source.LINK
    assert Suppression.objects.count() == 1
    assert is_suppressed(owner.pk, "ANNA@example.com")
    assert not is_suppressed(other_user.pk, "anna@example.com")
    assert suppressed_emails(owner.pk, ["anna@EXAMPLE.com", "bob@example.com"]) == {"anna@EXAMPLE.com"}


def test_a_non_ascii_address_matches_in_any_case(owner: User) -> None:
    suppression_add(owner_id=owner.pk, email="Пётр@Почта.рф", source=Suppression.Source.ONE_CLICK)
    assert is_suppressed(owner.pk, "пётр@почта.рф")


def test_an_unknown_source_is_refused(owner: User) -> None:
    with pytest.raises(ValueError):
        suppression_add(owner_id=owner.pk, email="a@example.com", source="whim")


def test_a_run_records_suppressed_addresses_as_skipped_unsubscribed(server: SmtpServer, owner: User) -> None:
    suppression_add(owner_id=owner.pk, email="B@example.com", source=Suppression.Source.LINK)
    _mailing, attempt = make_run(owner)
    skipped = Delivery.objects.get(attempt=attempt, email="b@example.com")
    assert (skipped.state, skipped.reason) == (Delivery.State.SKIPPED, "unsubscribed")
    assert skipped.reason_text == "отписался"

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE

    assert sorted(m.rcpt_tos[0] for m in server.messages) == ["a@example.com", "c@example.com"]
    attempt.refresh_from_db()
    assert (attempt.total_count, attempt.sent_count, attempt.skipped_count) == (3, 2, 1)


def test_an_unsubscribe_during_a_run_stops_its_pending_delivery(server: SmtpServer, owner: User) -> None:
    _mailing, attempt = make_run(owner)
    suppression_add(owner_id=owner.pk, email="c@example.com", source=Suppression.Source.ONE_CLICK)
    assert states(attempt)["c@example.com"] == Delivery.State.SKIPPED
    # The run's counters moved with the ledger (mailings/delivery/counts.py): the pages agree at once.
    attempt.refresh_from_db()
    assert (attempt.pending_count, attempt.skipped_count) == (2, 1)
    assert attempt_counts_from_ledger(attempt_id=attempt.pk) == {
        f: getattr(attempt, f) for f in attempt_counts_from_ledger(attempt_id=attempt.pk)
    }

    attempt_deliver(attempt_id=attempt.pk)

    assert sorted(m.rcpt_tos[0] for m in server.messages) == ["a@example.com", "b@example.com"]


def test_the_last_open_delivery_stopped_finishes_the_run(
    server: SmtpServer, owner: User, django_capture_on_commit_callbacks: object
) -> None:
    _mailing, attempt = make_run(owner, ["a@example.com"])
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        suppression_add(owner_id=owner.pk, email="a@example.com", source=Suppression.Source.LINK)
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.FAILURE
    assert attempt.skipped_count == 1


def test_a_claimed_delivery_whose_address_is_then_suppressed_is_not_sent(server: SmtpServer, owner: User) -> None:
    _mailing, attempt = make_run(owner)
    # A worker has claimed the batch (state sending) and not yet reached the final dot of any message.
    Delivery.objects.filter(attempt=attempt).update(state=Delivery.State.SENDING, lease_owner="elsewhere")
    suppression_add(owner_id=owner.pk, email="a@example.com", source=Suppression.Source.LINK)
    assert states(attempt)["a@example.com"] == Delivery.State.SKIPPED
    assert states(attempt)["b@example.com"] == Delivery.State.SENDING


def test_the_engine_drops_a_claimed_delivery_of_a_suppressed_address(server: SmtpServer, owner: User) -> None:
    _mailing, attempt = make_run(owner, ["Пётр@example.com", "b@example.com"])
    # On SQLite the snapshot's LOWER folds ASCII only: the engine's own check (in Python) catches this one.
    Suppression.objects.create(owner=owner, email="пётр@example.com", email_key="пётр@example.com", source="link")

    attempt_deliver(attempt_id=attempt.pk)

    assert [m.rcpt_tos[0] for m in server.messages] == ["b@example.com"]
    assert Delivery.objects.get(attempt=attempt, email="Пётр@example.com").reason == "unsubscribed"


def test_lifting_keeps_the_record_and_the_statement(owner: User) -> None:
    entry = suppression_add(owner_id=owner.pk, email="a@example.com", source=Suppression.Source.LINK, reason="много")
    lift = suppression_lift(
        suppression=entry, how=SuppressionLift.How.OWNER_CONSENT, statement="Подписался на выставке", by=owner
    )
    assert not Suppression.objects.exists()
    assert (lift.email, lift.suppressed_source, lift.suppressed_reason) == ("a@example.com", "link", "много")
    assert lift.statement == "Подписался на выставке"
    assert not is_suppressed(owner.pk, "a@example.com")


def test_check_deploy_warns_about_a_local_or_plain_http_site_url(settings: Any) -> None:
    from suppressions.checks import site_url_check

    for local in ["http://127.0.0.1:8000", "http://mail.example.com", "https://localhost"]:
        settings.SITE_URL = local
        assert [w.id for w in site_url_check()] == ["suppressions.W001"]
    settings.SITE_URL = "https://mail.example.com"
    assert site_url_check() == []


SOURCE_REASONS = [
    (Suppression.Source.LINK, "unsubscribed", "отписался"),
    (Suppression.Source.MAILTO, "unsubscribed", "отписался"),
    (Suppression.Source.BOUNCE_HARD, "suppressed_bounce", "адрес в списке исключений: возврат"),
    (Suppression.Source.BOUNCE_SOFT, "suppressed_bounce", "адрес в списке исключений: возврат"),
    (Suppression.Source.COMPLAINT, "suppressed_complaint", "адрес в списке исключений: жалоба на спам"),
    (Suppression.Source.OWNER, "suppressed_owner", "адрес в списке исключений: добавлен владельцем"),
    (Suppression.Source.API, "suppressed_owner", "адрес в списке исключений: добавлен владельцем"),
]


@pytest.mark.parametrize(("source", "code", "text"), SOURCE_REASONS)
def test_a_skipped_delivery_says_why_the_address_is_on_the_list(
    server: SmtpServer, owner: User, source: str, code: str, text: str
) -> None:
    # Left out at the snapshot (SQL), stopped mid-run (suppression_add) and dropped by the engine (Python).
    suppression_add(owner_id=owner.pk, email="b@example.com", source=source)
    _mailing, attempt = make_run(owner, ["a@example.com", "b@example.com", "Пётр@example.com", "c@example.com"])
    suppression_add(owner_id=owner.pk, email="c@example.com", source=source)
    Suppression.objects.create(owner=owner, email="пётр@example.com", email_key="пётр@example.com", source=source)

    attempt_deliver(attempt_id=attempt.pk)

    assert [m.rcpt_tos[0] for m in server.messages] == ["a@example.com"]
    for address in ("b@example.com", "c@example.com", "Пётр@example.com"):
        skipped = Delivery.objects.get(attempt=attempt, email=address)
        assert (skipped.state, skipped.reason, skipped.reason_text) == (Delivery.State.SKIPPED, code, text), address
    with translation.override("en"):
        assert Delivery.objects.get(attempt=attempt, email="b@example.com").reason_text != text
