import pytest

from consents.models import ConsentRecord, ConsentWording, Kind, Method
from consents.services import (
    consent_record_add,
    consent_wording_current,
    consent_wording_ensure,
    consent_wording_update,
)
from mailings.models import Recipient
from users.models import User


def test_record_add_links_the_owners_recipient_by_address(owner: User) -> None:
    recipient = Recipient.objects.create(owner=owner, email="Anna@Example.com", full_name="Anna")
    record = consent_record_add(
        owner_id=owner.pk,
        email="anna@example.com",
        kind=Kind.ADVERTISING,
        method=Method.RESTORED,
        source_note="Клиентка попросила вернуть рассылку по телефону",
    )
    assert record.recipient == recipient
    assert record.email_key == "anna@example.com"
    assert record.wording is None
    assert ConsentRecord.objects.count() == 1


def test_record_add_refuses_unknown_kinds_and_methods(owner: User) -> None:
    with pytest.raises(ValueError):
        consent_record_add(owner_id=owner.pk, email="a@example.com", kind="spam", method=Method.API)
    with pytest.raises(ValueError):
        consent_record_add(owner_id=owner.pk, email="a@example.com", kind=Kind.ADVERTISING, method="carrier pigeon")


def test_record_add_refuses_another_owners_wording(owner: User, other_user: User) -> None:
    wording = consent_wording_ensure(owner=other_user, kind=Kind.ADVERTISING)
    with pytest.raises(ValueError):
        consent_record_add(
            owner_id=owner.pk, email="a@example.com", kind=Kind.ADVERTISING, method=Method.API, wording=wording
        )


def test_the_default_wording_names_the_owner_and_becomes_version_one_only_when_needed(owner: User) -> None:
    assert consent_wording_current(owner_id=owner.pk, kind=Kind.PERSONAL_DATA) is None
    wording = consent_wording_ensure(owner=owner, kind=Kind.PERSONAL_DATA)
    assert wording.version == 1
    assert "152-ФЗ" in wording.text and owner.first_name in wording.text
    assert consent_wording_ensure(owner=owner, kind=Kind.PERSONAL_DATA) == wording


def test_an_edit_is_a_new_version_and_the_old_one_stays(owner: User) -> None:
    first = consent_wording_ensure(owner=owner, kind=Kind.ADVERTISING)
    second = consent_wording_update(owner=owner, kind=Kind.ADVERTISING, text="Согласен получать акции магазина.")
    assert second.version == 2
    first.refresh_from_db()
    assert "38-ФЗ" in first.text
    assert (
        consent_wording_update(owner=owner, kind=Kind.ADVERTISING, text=" Согласен получать акции магазина. ") == second
    )
    assert ConsentWording.objects.filter(owner=owner).count() == 2
    # The other kind is versioned on its own.
    assert consent_wording_update(owner=owner, kind=Kind.PERSONAL_DATA, text="ПД").version == 1
