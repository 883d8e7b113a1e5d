"""Writes of the API app: personal tokens, and the bulk upsert of recipients (the one write the web lacks)."""

import logging
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from api.models import TOKEN_PREFIX_LENGTH, ApiToken, token_generate, token_hash
from core.data_versions import data_version_bump
from mailings.forms import DUPLICATE_EMAIL, RecipientForm
from mailings.models import Recipient
from users.models import User

logger = logging.getLogger(__name__)


def api_token_create(*, owner: User, name: str, scope: str) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is shown once and only its hash is kept."""
    raw = token_generate()
    token = ApiToken.objects.create(
        owner=owner, name=name.strip(), scope=scope, prefix=raw[:TOKEN_PREFIX_LENGTH], token_hash=token_hash(raw)
    )
    logger.info("api token created: owner=%s token=%s scope=%s", owner.pk, token.pk, scope)
    return token, raw


def api_token_revoke(*, token: ApiToken) -> bool:
    """Revoke the token at once; False if it was already revoked."""
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    logger.info("api token revoked: token=%s changed=%s", token.pk, revoked)
    return bool(revoked)


@dataclass
class UpsertResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0, "invalid": 0})

    def add(self, index: int, status: str, pk: int | None = None, errors: dict[str, list[str]] | None = None) -> None:
        self.rows.append({"index": index, "status": status, "id": pk, "errors": errors})
        self.counts[status] += 1


def _row_clean(fields: dict[str, forms.Field], row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The row's values through the recipient form's own fields: the same rules and messages as the page."""
    cleaned, errors = {}, {}
    for name in ("email", "full_name", "comment"):
        value = row.get(name)
        if name == "comment" and value is None:
            continue
        try:
            cleaned[name] = fields[name].clean(value)
        except forms.ValidationError as exc:
            errors[name] = [str(m) for m in exc.messages]
    return cleaned, errors


def recipients_upsert(*, owner: User, rows: list[dict[str, Any]]) -> UpsertResult:
    """Create or update the owner's recipients by email (case-insensitive), with one result per row.

    Rows are checked by the recipient form's fields; valid ones are written with one SELECT, one bulk INSERT and
    one bulk UPDATE, so 1,000 rows cost a handful of queries rather than a form's query per row. An address
    given twice in one request is refused on its second row.
    """
    fields = RecipientForm(owner=owner).fields
    result = UpsertResult()
    valid: dict[str, tuple[int, dict[str, Any]]] = {}
    outcomes: dict[int, tuple[str, Any]] = {}
    for index, row in enumerate(rows):
        cleaned, errors = _row_clean(fields, row)
        key = cleaned.get("email", "").lower()
        if not errors and key in valid:
            errors = {
                "email": [_("Этот адрес уже есть выше в этом запросе (строка %(index)s).") % {"index": valid[key][0]}]
            }
        if errors:
            outcomes[index] = ("invalid", errors)
        else:
            valid[key] = (index, cleaned)
    try:
        with transaction.atomic():
            written = _upsert_write(owner=owner, valid=valid)
    except IntegrityError:
        # Another request created one of these addresses between our read and our insert, or the database folds
        # the case of a non-ASCII address differently from Python: row by row, each refused as the form would.
        written = _upsert_one_by_one(owner=owner, valid=valid)
    outcomes.update(written)
    for index in range(len(rows)):
        status, value = outcomes[index]
        if status == "invalid":
            result.add(index, status, errors=value)
        else:
            result.add(index, status, pk=value)
    if result.counts["created"] or result.counts["updated"]:
        data_version_bump(owner_id=owner.pk)
    logger.info("recipients upserted: owner=%s %s", owner.pk, result.counts)
    return result


def _upsert_write(*, owner: User, valid: dict[str, tuple[int, dict[str, Any]]]) -> dict[int, tuple[str, Any]]:
    outcomes: dict[int, tuple[str, Any]] = {}
    existing: dict[str, Recipient] = {
        r.key: r
        for r in Recipient.objects.filter(owner=owner)
        .annotate(key=Lower("email"))
        .filter(key__in=list(valid))
        .only("pk", "email", "full_name", "comment")
    }
    to_create: list[tuple[int, Recipient]] = []
    to_update: list[Recipient] = []
    now = timezone.now()
    for key, (index, cleaned) in valid.items():
        recipient = existing.get(key)
        if recipient is None:
            to_create.append(
                (
                    index,
                    Recipient(
                        owner=owner,
                        email=cleaned["email"],
                        full_name=cleaned["full_name"],
                        comment=cleaned.get("comment", ""),
                        created_at=now,
                        updated_at=now,
                    ),
                )
            )
            continue
        changed = False
        for name, value in cleaned.items():
            if getattr(recipient, name) != value:
                setattr(recipient, name, value)
                changed = True
        if changed:
            recipient.updated_at = now
            to_update.append(recipient)
            outcomes[index] = ("updated", recipient.pk)
        else:
            outcomes[index] = ("unchanged", recipient.pk)
    if to_create:
        Recipient.objects.bulk_create([r for _i, r in to_create], batch_size=1000)
        for index, created in to_create:
            outcomes[index] = ("created", created.pk)
    if to_update:
        Recipient.objects.bulk_update(to_update, ["email", "full_name", "comment", "updated_at"], batch_size=500)
    return outcomes


def _upsert_one_by_one(*, owner: User, valid: dict[str, tuple[int, dict[str, Any]]]) -> dict[int, tuple[str, Any]]:
    outcomes: dict[int, tuple[str, Any]] = {}
    for key, (index, cleaned) in valid.items():
        try:
            with transaction.atomic():
                outcomes.update(_upsert_write(owner=owner, valid={key: (index, cleaned)}))
        except IntegrityError:
            outcomes[index] = ("invalid", {"email": [str(DUPLICATE_EMAIL)]})
    return outcomes
