"""Writes of consent evidence: wording versions, consent records, the subscribe form and its double opt-in.

Other apps record a consent with one call, `consent_record_add` (the API, the suppression list's «new consent»).
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from audience.models import Import, ImportRow, List
from consents.models import (
    ConsentRecord,
    ConsentWording,
    ImportConsentStatement,
    Kind,
    Method,
    PendingSubscription,
    SubscribeForm,
)
from consents.wording import wording_default
from core.data_versions import data_version_bump
from mailings.models import Recipient
from users.models import User
from users.services import account_email_enqueue

logger = logging.getLogger(__name__)


# --- wording ------------------------------------------------------------------------------------


def consent_wording_current(*, owner_id: int, kind: str) -> ConsentWording | None:
    """The owner's latest version of this kind, or None while the owner has never needed one (the default)."""
    return ConsentWording.objects.filter(owner_id=owner_id, kind=kind).order_by("-version").first()


def consent_wording_ensure(*, owner: User, kind: str) -> ConsentWording:
    """The latest version; the default text becomes version 1 the first time a consent needs a version to point to."""
    current = consent_wording_current(owner_id=owner.pk, kind=kind)
    if current is not None:
        return current
    try:
        with transaction.atomic():
            return ConsentWording.objects.create(owner=owner, kind=kind, version=1, text=wording_default(kind, owner))
    except IntegrityError:  # two first subscriptions at once: the other one wrote version 1
        found = consent_wording_current(owner_id=owner.pk, kind=kind)
        assert found is not None
        return found


def consent_wording_update(*, owner: User, kind: str, text: str) -> ConsentWording:
    """Save the text as a new version (older versions stay as they were); the same text again changes nothing."""
    text = text.strip()
    current = consent_wording_current(owner_id=owner.pk, kind=kind)
    if current is not None and current.text == text:
        return current
    for _attempt in range(3):
        latest = ConsentWording.objects.filter(owner=owner, kind=kind).aggregate(v=Max("version"))["v"] or 0
        try:
            with transaction.atomic():
                wording = ConsentWording.objects.create(owner=owner, kind=kind, version=latest + 1, text=text)
        except IntegrityError:  # another edit took this number a moment ago
            continue
        data_version_bump(owner_id=owner.pk)
        logger.info("consent wording saved: owner=%s kind=%s version=%s", owner.pk, kind, wording.version)
        return wording
    raise RuntimeError("consent wording: no free version number after three tries")


# --- records ------------------------------------------------------------------------------------


def consent_record_add(
    *,
    owner_id: int,
    email: str,
    kind: str,
    method: str,
    wording: ConsentWording | None = None,
    source_note: str = "",
    ip: str | None = None,
    user_agent: str = "",
    recipient: Recipient | None = None,
    source: str = "",
) -> ConsentRecord:
    """Record that `email` gave the owner consent of `kind` (Kind) by `method` (Method). Append-only.

    `wording`: the version agreed to (forms, API); `source` (Source) and `source_note`: what the owner states
    for imports, hand-added addresses and consents restored after an unsubscribe. Without `recipient`, the
    owner's recipient with that address (if any) is linked.
    """
    if kind not in Kind.values:
        raise ValueError(f"unknown consent kind: {kind!r}")
    if method not in Method.values:
        raise ValueError(f"unknown consent method: {method!r}")
    if wording is not None and (wording.owner_id != owner_id or wording.kind != kind):
        raise ValueError("the wording belongs to another owner or kind")
    email = email.strip()
    if recipient is None:
        recipient = Recipient.objects.filter(owner_id=owner_id, email__iexact=email).first()
    record = ConsentRecord.objects.create(
        owner_id=owner_id,
        recipient=recipient,
        email=email,
        email_key=email.lower(),
        kind=kind,
        method=method,
        wording=wording,
        source=source,
        source_note=source_note.strip(),
        ip=ip or None,
        user_agent=user_agent[:500],
    )
    data_version_bump(owner_id=owner_id)  # the recipient's page shows its consents
    logger.info("consent recorded: owner=%s record=%s kind=%s method=%s", owner_id, record.pk, kind, method)
    return record


def consent_records_manual(
    *, recipient: Recipient, kinds: list[str], source: str, source_note: str
) -> list[ConsentRecord]:
    """The consents an owner states for an address added by hand."""
    return [
        consent_record_add(
            owner_id=recipient.owner_id,
            email=recipient.email,
            kind=kind,
            method=Method.MANUAL,
            source=source,
            source_note=source_note,
            recipient=recipient,
        )
        for kind in kinds
    ]


def import_consent_state(*, job: Import, kinds: list[str], source: str, source_note: str) -> ImportConsentStatement:
    """Keep what the owner states about the file's consents until the import's task applies it."""
    statement, _created = ImportConsentStatement.objects.update_or_create(
        import_job=job,
        defaults={
            "source": source,
            "source_note": source_note.strip(),
            "advertising": Kind.ADVERTISING in kinds,
            "personal_data": Kind.PERSONAL_DATA in kinds,
        },
    )
    return statement


def consent_records_for_import(*, job: Import) -> int:
    """Inside the import's apply transaction: one record per stated kind for every applied row, set-based.

    One INSERT … SELECT per kind over the staged rows joined to the recipients (as the import fills its lists),
    so 100,000 rows cost two statements, never a Python loop. Returns the number of records written.
    """
    statement = ImportConsentStatement.objects.filter(import_job=job).first()
    if statement is None:
        return 0
    q = connection.ops.quote_name
    record, staged, recipient = (
        q(ConsentRecord._meta.db_table),
        q(ImportRow._meta.db_table),
        q(Recipient._meta.db_table),
    )
    now = timezone.now()
    written = 0
    columns = [
        "owner_id",
        "recipient_id",
        "email",
        "email_key",
        "kind",
        "method",
        "source",
        "source_note",
        "user_agent",
        "created_at",
    ]
    for kind in statement.kinds:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {record} ({', '.join(q(c) for c in columns)}) "
                f"SELECT %s, r.{q('id')}, r.{q('email')}, s.{q('email_key')}, %s, %s, %s, %s, '', %s "
                f"FROM {staged} s JOIN {recipient} r ON r.{q('owner_id')} = %s "
                # `|| ''`: as in the import's own joins, without it SQLite skips the (owner, lower(email)) index.
                f"AND LOWER(r.{q('email')}) = (s.{q('email_key')} || '') "
                f"WHERE s.{q('import_job_id')} = %s AND s.{q('outcome')} IN (%s, %s)",
                [
                    job.owner_id,
                    kind,
                    Method.IMPORT,
                    statement.source,
                    statement.source_note,
                    now,
                    job.owner_id,
                    job.pk,
                    ImportRow.Outcome.NEW,
                    ImportRow.Outcome.UPDATE,
                ],
            )
            written += max(int(cursor.rowcount), 0)
    logger.info("consents recorded for import: import=%s records=%s", job.pk, written)
    return written


# --- the public subscribe form ------------------------------------------------------------------


def subscribe_form_enable(*, recipient_list: List) -> SubscribeForm:
    """Turn the list's public form on; its address (token) is made once and kept, so pasted snippets keep working."""
    # The texts become versions now, so that the snippet the owner copies can name the versions it shows.
    for kind in Kind.values:
        consent_wording_ensure(owner=recipient_list.owner, kind=kind)
    form, created = SubscribeForm.objects.get_or_create(
        recipient_list=recipient_list, defaults={"token": secrets.token_urlsafe(24)}
    )
    if not created and not form.enabled:
        form.enabled = True
        form.save(update_fields=["enabled"])
    logger.info("subscribe form enabled: list=%s", recipient_list.pk)
    return form


def subscribe_form_disable(*, recipient_list: List) -> None:
    SubscribeForm.objects.filter(recipient_list=recipient_list).update(enabled=False)
    logger.info("subscribe form disabled: list=%s", recipient_list.pk)


def _hour_count_allowed(*, key: str, limit: int) -> bool:
    """At most `limit` hits of this key per clock hour (0: no limit); as users.services does for resets."""
    if not limit:
        return True
    key = f"consents:{key}:{int(timezone.now().timestamp() // 3600)}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add() and incr()
        cache.set(key, 1, timeout=3600)
        count = 1
    return count <= limit


def subscribe_ip_allowed(*, ip: str | None) -> bool:
    """May this client address send one more subscription this hour (SUBSCRIBE_PER_IP)?"""
    if not ip:
        return True
    return _hour_count_allowed(key="ip:" + hashlib.sha256(ip.encode()).hexdigest(), limit=settings.SUBSCRIBE_PER_IP)


def _address_allowed(email: str) -> bool:
    """At most one confirmation email per address per SUBSCRIBE_RESEND_INTERVAL, whichever form asked."""
    key = "consents:address:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()
    now, interval = timezone.now().timestamp(), settings.SUBSCRIBE_RESEND_INTERVAL
    # add() is atomic: two requests at once send one email. The stored time is checked too because Redis
    # expires keys on its own clock, which a moved clock (tests) does not reach.
    if cache.add(key, now, timeout=interval):
        return True
    last = cache.get(key)
    if last is not None and now - float(last) < interval:
        return False
    cache.set(key, now, timeout=interval)
    return True


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def owner_display_name(owner: User) -> str:
    return owner.get_full_name() or owner.email


def _wording_shown(*, owner: User, kind: str, version: int | None) -> ConsentWording:
    """The version the visitor was shown (named by the form), or the current one if it names none of the owner's."""
    if version is not None:
        shown = ConsentWording.objects.filter(owner=owner, kind=kind, version=version).first()
        if shown is not None:
            return shown
    return consent_wording_ensure(owner=owner, kind=kind)


def subscribe_request(
    *,
    form: SubscribeForm,
    email: str,
    full_name: str,
    ip: str | None,
    user_agent: str,
    base_url: str,
    versions: dict[str, int | None] | None = None,
) -> bool:
    """Keep a pending subscription and queue its confirmation email; False if the address asked too recently.

    Nothing here depends on whether the address is already subscribed, so the page (always the same) and the
    timing tell nobody. The list is changed only by the confirmation (subscribe_confirm).
    """
    now = timezone.now()
    # Expired links are useless, confirmed or not (the consent records are the evidence): keep the table small.
    PendingSubscription.objects.filter(expires_at__lt=now).delete()
    if not _address_allowed(email):
        logger.info("subscription not mailed: asked again too soon for the same address (form=%s)", form.pk)
        return False
    recipient_list = form.recipient_list
    owner = recipient_list.owner
    versions = versions or {}
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        pending = PendingSubscription.objects.create(
            form=form,
            token_hash=_token_hash(token),
            email=email.strip(),
            full_name=full_name.strip(),
            advertising_wording=_wording_shown(
                owner=owner, kind=Kind.ADVERTISING, version=versions.get(Kind.ADVERTISING)
            ),
            personal_data_wording=_wording_shown(
                owner=owner, kind=Kind.PERSONAL_DATA, version=versions.get(Kind.PERSONAL_DATA)
            ),
            ip=ip or None,
            user_agent=user_agent[:500],
            expires_at=now + timedelta(seconds=settings.SUBSCRIBE_CONFIRM_MAX_AGE),
        )
        account_email_enqueue(
            name="subscribe_confirm",
            to=pending.email,
            context={
                "owner_name": owner_display_name(owner),
                "list_name": recipient_list.name,
                "link": base_url.rstrip("/") + reverse("consents:subscribe_confirm", args=[token]),
                "max_age_hours": settings.SUBSCRIBE_CONFIRM_MAX_AGE // 3600,
                "site_name": settings.SITE_NAME,
            },
        )
    logger.info("subscription pending: form=%s pending=%s", form.pk, pending.pk)
    return True


def subscription_pending_get(*, token: str) -> PendingSubscription | None:
    """The subscription this link confirms (also one confirmed already: a second click is not an error)."""
    pending = (
        PendingSubscription.objects.select_related("form__recipient_list__owner")
        .filter(token_hash=_token_hash(token))
        .first()
    )
    if pending is None or not pending.form.enabled or not pending.form.recipient_list.owner.is_active:
        return None
    if pending.expires_at <= timezone.now():
        return None
    return pending


@dataclass(frozen=True)
class Confirmed:
    recipient: Recipient
    created: bool  # a new recipient of the owner (False: an address the owner had already)
    first_time: bool  # False: this link had been confirmed before


def subscribe_confirm(*, pending: PendingSubscription) -> Confirmed:
    """Add the address to the owner's recipients and the list, and record both consents with their wording.

    One conditional UPDATE claims the pending row, so two clicks confirm once.
    """
    recipient_list = pending.form.recipient_list
    owner_id = recipient_list.owner_id
    with transaction.atomic():
        claimed = PendingSubscription.objects.filter(pk=pending.pk, confirmed_at__isnull=True).update(
            confirmed_at=timezone.now()
        )
        recipient = Recipient.objects.filter(owner_id=owner_id, email__iexact=pending.email).first()
        created = False
        if recipient is None:
            try:
                with transaction.atomic():
                    recipient = Recipient.objects.create(
                        owner_id=owner_id, email=pending.email, full_name=pending.full_name
                    )
                created = True
            except IntegrityError:  # the owner added the address at this very moment
                recipient = Recipient.objects.get(owner_id=owner_id, email__iexact=pending.email)
        if not claimed:
            return Confirmed(recipient=recipient, created=False, first_time=False)
        recipient_list.members.add(recipient)
        for wording in (pending.personal_data_wording, pending.advertising_wording):
            if wording is not None:
                consent_record_add(
                    owner_id=owner_id,
                    email=pending.email,
                    kind=wording.kind,
                    method=Method.FORM,
                    wording=wording,
                    ip=pending.ip,
                    user_agent=pending.user_agent,
                    recipient=recipient,
                )
        # At merge time: a confirmed subscription lifts the owner's suppression of this address here (the new
        # consents above are the evidence the suppression list asks for).
    data_version_bump(owner_id=owner_id)
    logger.info("subscription confirmed: list=%s recipient=%s created=%s", recipient_list.pk, recipient.pk, created)
    return Confirmed(recipient=recipient, created=created, first_time=True)
