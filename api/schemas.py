"""What the API reads and answers (OpenAPI components). Input is validated by the web's forms, not here:
these types say what JSON shape is accepted, the forms say whether the values are good (api/forms_bridge.py)."""

from datetime import datetime
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict

from api.pagination import MAX_ID

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
DateTimeText = Annotated[str, Field(json_schema_extra={"format": "date-time"}, max_length=64)]
MAX_UPSERT = 10_000


class RecipientIn(Schema):
    email: Annotated[str, Field(max_length=320)]
    full_name: Annotated[str, Field(max_length=1000)]
    comment: Annotated[str, Field(max_length=10_000)] = ""


class PatchSchema(BaseModel):
    """A body whose fields are all optional. Plain pydantic: ninja's Schema reads any value by attributes, so a JSON
    array would pass as an empty change; a model refuses everything but an object."""


class RecipientPatch(PatchSchema):
    email: Annotated[str, Field(max_length=320)] | None = None
    full_name: Annotated[str, Field(max_length=1000)] | None = None
    comment: Annotated[str, Field(max_length=10_000)] | None = None


class RecipientOut(BaseModel):
    # Plain pydantic read from attributes by pydantic-core: a page of 1,000 recipients is validated without
    # ninja Schema's per-field Python getter (bench/api.py measures the listing).
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int
    email: str
    full_name: str
    comment: str
    created_at: datetime
    updated_at: datetime


class UpsertRow(Schema):
    email: Annotated[str, Field(max_length=320)]
    full_name: Annotated[str, Field(max_length=255)]
    # Omitted: an existing recipient keeps their comment.
    comment: Annotated[str, Field(max_length=1000)] | None = None


class UpsertIn(Schema):
    recipients: Annotated[list[UpsertRow], Field(min_length=1, max_length=MAX_UPSERT)]


class UpsertRowResult(Schema):
    index: int
    status: str = Field(description="created, updated, unchanged or invalid")
    id: int | None = None
    errors: dict[str, list[str]] | None = None


class UpsertOut(Schema):
    created: int
    updated: int
    unchanged: int
    invalid: int
    results: list[UpsertRowResult]


class ListIn(Schema):
    name: Annotated[str, Field(max_length=1000)]


class ListOut(Schema):
    id: int
    owner_id: int
    name: str
    created_at: datetime
    updated_at: datetime


class MembersIn(Schema):
    recipient_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_UPSERT)]


class MembersOut(Schema):
    changed: int


class MessageIn(Schema):
    subject: Annotated[str, Field(max_length=1000)]
    body: Annotated[str, Field(max_length=200_000)]
    format: str = Field("plain", description="plain or markdown")


class MessagePatch(PatchSchema):
    subject: Annotated[str, Field(max_length=1000)] | None = None
    body: Annotated[str, Field(max_length=200_000)] | None = None
    format: str | None = None


class MessageOut(Schema):
    id: int
    owner_id: int
    subject: str
    body: str
    format: str
    created_at: datetime
    updated_at: datetime


class MailingIn(Schema):
    message_id: Id
    smtp_account_id: Id | None = None
    start_at: DateTimeText
    end_at: DateTimeText
    periodicity: str = Field("once", description="once, daily, weekly or monthly")
    all_recipients: bool = False
    list_ids: Annotated[list[Id], Field(max_length=1000)] = []
    recipient_ids: Annotated[list[Id], Field(max_length=1000)] = []


class MailingPatch(PatchSchema):
    message_id: Id | None = None
    smtp_account_id: Id | None = None
    start_at: DateTimeText | None = None
    end_at: DateTimeText | None = None
    periodicity: str | None = None
    all_recipients: bool | None = None
    list_ids: Annotated[list[Id], Field(max_length=1000)] | None = None
    recipient_ids: Annotated[list[Id], Field(max_length=1000)] | None = None


class MailingOut(Schema):
    id: int
    owner_id: int
    message_id: int
    smtp_account_id: int | None
    start_at: datetime
    end_at: datetime
    periodicity: str
    status: str
    is_enabled: bool
    disabled_reason: str
    next_run_at: datetime | None
    all_recipients: bool
    list_ids: list[int]
    recipient_count: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_list_ids(obj: Any) -> list[int]:
        return [row.pk for row in obj.lists.all()]

    @staticmethod
    def resolve_recipient_count(obj: Any) -> int:
        return len(obj.recipients.all())


class ReasonIn(PatchSchema):
    reason: Annotated[str, Field(max_length=2000)] = ""


class AttemptOut(Schema):
    id: int
    mailing_id: int
    trigger: str
    status: str
    retry_of_id: int | None
    scheduled_for: datetime | None
    started_at: datetime
    finished_at: datetime | None
    total_count: int
    sent_count: int
    failed_count: int
    unknown_count: int
    skipped_count: int
    note: str
    server_response: str

    @staticmethod
    def resolve_note(obj: Any) -> str:
        return str(obj.note_text) if obj.note else ""


class DeliveryOut(Schema):
    id: int
    attempt_id: int
    recipient_id: int | None
    email: str
    full_name: str
    state: str
    tries: int
    smtp_code: int | None
    smtp_reply: str
    reason: str
    reason_text: str
    message_id: str
    finished_at: datetime | None

    @staticmethod
    def resolve_reason_text(obj: Any) -> str:
        return str(obj.reason_text) if obj.reason else ""


class StatsOut(Schema):
    attempts_total: int
    attempts_success: int
    attempts_failure: int
    attempts_in_progress: int
    attempts_skipped: int
    delivered: int
    undelivered: int


class MailingStatsOut(Schema):
    id: int
    attempts_total: int
    attempts_success: int
    attempts_failure: int
    delivered: int
    undelivered: int


def page_of(item: type[BaseModel], name: str) -> type[Schema]:
    """A page of `item`s: the items and the cursor of the next page (null on the last)."""
    fields = {"items": list[item], "next_cursor": str | None}  # type: ignore[valid-type]
    return type(name, (Schema,), {"__annotations__": fields})
