"""Reads of webhook endpoints: every scoped queryset of them starts here, and the emitter's cached lookup."""

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet

from users.models import User
from webhooks.models import WebhookEndpoint


def endpoints_for(user: User) -> QuerySet[WebhookEndpoint]:
    """The user's own endpoints: the start of every write."""
    return WebhookEndpoint.objects.filter(owner=user)


def can_view_all_endpoints(user: User) -> bool:
    return user.has_perm("webhooks.view_all_webhook_endpoints")


def endpoints_visible_to(user: User) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.all() if can_view_all_endpoints(user) else endpoints_for(user)


# The emitter runs in the delivery engine's loop: the owner's enabled endpoints are read from the cache
# (one key per owner, dropped on every change of them) so an owner without endpoints costs one cache read.
_CACHE_SECONDS = 600


def _cache_key(owner_id: int) -> str:
    return f"webhooks:endpoints:{owner_id}"


def endpoints_cache_forget(*, owner_id: int) -> None:
    """Drop the owner's cached endpoints now and again after the commit (a reader in between may refill it)."""
    key = _cache_key(owner_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def endpoints_subscribed(*, owner_id: int, event: str) -> list[int]:
    """The ids of the owner's enabled endpoints that chose `event`."""
    key = _cache_key(owner_id)
    rows: list[tuple[int, list[str]]] | None = cache.get(key)
    if rows is None:
        rows = [
            (pk, list(events))
            for pk, events in WebhookEndpoint.objects.filter(owner_id=owner_id, is_enabled=True).values_list(
                "pk", "events"
            )
        ]
        cache.set(key, rows, _CACHE_SECONDS)
    return [pk for pk, events in rows if event in events]
