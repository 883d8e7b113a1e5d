"""Server-side cache of the mailings pages: per-owner data versions (generation counters) in the shared cache.

The contract:

- Every service that writes an owner's data (recipients, messages, mailings, runs, the delivery engine's
  outcomes, the scheduler's status changes, a manager's moderation) calls `data_version_bump(owner_id=...)`.
  That gives the owner's version `ver:owner:<id>` and the service-wide `ver:all` new, never-seen values
  once the transaction commits.
- Cached values live under keys that embed the version they were computed at, so after a bump nobody
  looks at the old ones again (they expire on their own, CACHE_DATA_TIMEOUT). Nothing is ever deleted,
  so a reader that computed from old data and stores after the bump writes where nobody looks.
- A version that is missing (evicted, cache restarted) is initialised to a new unique value: as if it had
  just been bumped, so nothing cached before is served.
- A cache that fails (Redis away, no cache table) means "no version": callers compute from the database,
  store nothing and emit no validator. It never raises into a page.

The cache is the one every process shares (settings.CACHES["default"]: Redis, or the database), which
is what lets the worker's and the scheduler's bumps reach the web processes.
"""

import hashlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from users.models import User

logger = logging.getLogger(__name__)

T = TypeVar("T")

VERSION_ALL_KEY = "ver:all"
# Read with every version: bumped for changes that may show on anyone's pages (a manager renamed, who is
# named on the mailings they disabled), so they are rare.
VERSION_EVERYONE_KEY = "ver:everyone"
# Long enough to be worth it, short enough to bound the damage of a bump the cache never received
# (see _pending): a value is never served after this many seconds whatever happens.
CACHE_DATA_TIMEOUT = 600

Scope = Literal["own", "visible"]

# Bumps that the cache refused (it was away); retried by this process on its next cache access.
_pending: set[str] = set()
_pending_lock = threading.Lock()


# What renders a page: templates, translations, Python and the static files it links to (their hashed
# names). A deploy that changes any of them changes every validator, so a browser never keeps a page
# rendered by the old code.
_BUILD_PARTS = ("templates", "locale", "static", "config", "mailings", "users", "blog", "audience")
_BUILD_SUFFIXES = (".py", ".html", ".txt", ".mo", ".css", ".js")


def build_id() -> str:
    """A digest of the files the pages are rendered from, computed once per process.

    Of their contents, not their times: every machine running the same release agrees on it, so a
    validator from one web server is good on another and they share the server copies of pages.
    With DEBUG, on every call: templates are edited under a running development server.
    """
    return _build_digest() if settings.DEBUG else _release_build_id()


@lru_cache(maxsize=1)
def _release_build_id() -> str:
    return _build_digest()


def _build_digest() -> str:
    digest = hashlib.sha256()
    base = Path(settings.BASE_DIR)
    for part in _BUILD_PARTS:
        for root, dirs, files in os.walk(base / part):
            dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "tests"))
            for name in sorted(files):
                if name.endswith(_BUILD_SUFFIXES):
                    path = Path(root) / name
                    digest.update(f"{path.relative_to(base)}\n".encode())
                    digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _owner_key(owner_id: int) -> str:
    return f"ver:owner:{owner_id}"


def _new_token() -> str:
    # Time-based and random: unique across processes and across cache restarts.
    return f"{time.time_ns():x}.{secrets.token_hex(4)}"


def _store_new_tokens(keys: Iterable[str]) -> bool:
    """Give `keys` new values; True if the cache has them afterwards."""
    values = {key: _new_token() for key in sorted(keys)}
    try:
        cache.set_many(values, timeout=None)
        # django-redis with IGNORE_EXCEPTIONS swallows a failed write: read back to know.
        stored = cache.get_many(list(values))
    except Exception:
        logger.warning("cache unavailable: data versions not bumped: %s", ",".join(values), exc_info=True)
        return False
    return all(key in stored for key in values)


def _retry_pending() -> None:
    if not _pending:
        return
    with _pending_lock:
        keys = set(_pending)
        if keys and _store_new_tokens(keys):
            _pending.difference_update(keys)
            logger.info("cache back: delayed data version bumps done: %s", ",".join(sorted(keys)))


def _bump_now(keys: set[str]) -> None:
    _retry_pending()
    if not _store_new_tokens(keys):
        logger.error("cache unavailable: data version bump kept for a retry: %s", ",".join(sorted(keys)))
        with _pending_lock:
            _pending.update(keys)


def data_versions_bump(*, owner_ids: Iterable[int]) -> None:
    """New data versions for these owners and for the service-wide view, after the current transaction commits.

    After commit, not before: a page computed while the transaction was open (old data) is stored under the
    old version. Outside a transaction the bump happens at once. Never raises; a bump the cache could not
    take is retried by this process on its next cache access (and cached values expire anyway).
    """
    keys = {_owner_key(int(owner_id)) for owner_id in owner_ids if owner_id is not None}
    keys.add(VERSION_ALL_KEY)
    _bump_keys(keys)


def _bump_keys(keys: set[str]) -> None:
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _bump_now(keys), robust=True)
    else:
        _bump_now(keys)


def data_version_bump(*, owner_id: int) -> None:
    """`data_versions_bump` for one owner."""
    data_versions_bump(owner_ids=[owner_id])


def data_version_bump_everyone() -> None:
    """New data versions for every user's pages (after commit, as `data_versions_bump`)."""
    _bump_keys({VERSION_EVERYONE_KEY, VERSION_ALL_KEY})


def data_version_bump_for_attempts(*, attempt_ids: Iterable[int]) -> None:
    """`data_versions_bump` for the owners of these attempts' mailings (one query)."""
    from mailings.models import Attempt

    ids = list(attempt_ids)
    if not ids:
        return
    owner_ids = set(Attempt.objects.filter(pk__in=ids).values_list("mailing__owner_id", flat=True))
    data_versions_bump(owner_ids=owner_ids)


def _read(keys: list[str], *, also: Sequence[str] = ()) -> tuple[list[str] | None, dict[str, Any]]:
    """The current values of version keys, initialising missing ones, and whatever of `also` is cached,
    in one round trip; (None, {}) if the cache is unavailable."""
    _retry_pending()
    try:
        found = cache.get_many([*keys, *also])
        missing = [key for key in keys if key not in found]
        if missing:
            for key in missing:
                # add(), not set(): of two processes initialising at once, both end up with one value.
                cache.add(key, _new_token(), timeout=None)
            found.update(cache.get_many(missing))
    except Exception:
        logger.warning("cache unavailable: pages computed from the database", exc_info=True)
        return None, {}
    if any(key not in found for key in keys):
        # django-redis with IGNORE_EXCEPTIONS answers "nothing" when Redis is away (and logs it).
        return None, {}
    return [str(found[key]) for key in keys], {key: found[key] for key in also if key in found}


VIEW_ALL_PERMISSIONS = frozenset(
    {
        "mailings.view_all_recipients",
        "mailings.view_all_messages",
        "mailings.view_all_mailings",
        "audience.view_all_lists",
    }
)


def sees_everyone(user: User, *, permissions: frozenset[str] | None = None) -> bool:
    """True if some page shows this user other owners' rows (a manager with a view_all_* permission).

    `permissions`, if the caller already has the user's permission names, saves the queries.
    """
    if permissions is not None:
        return user.is_superuser or bool(permissions & VIEW_ALL_PERMISSIONS)
    return any(user.has_perm(perm) for perm in sorted(VIEW_ALL_PERMISSIONS))


def data_version(*, user: User | None, scope: Scope = "visible") -> str | None:
    """The version of everything `user` sees, or None when the cache is unavailable (then cache nothing).

    scope="own": only the user's own rows (the home page's figures, even for a manager); "visible": what
    the user may read, everyone's for a manager. A visitor (None) sees service-wide figures.
    """
    return data_version_with(user=user, scope=scope)[0]


def data_version_with(
    *,
    user: User | None,
    scope: Scope = "visible",
    permissions: frozenset[str] | None = None,
    also: Sequence[str] = (),
) -> tuple[str | None, dict[str, Any]]:
    """`data_version`, and the cached values of the keys `also`, read in the same round trip to the cache.

    `permissions`: the user's permission names, if the caller has them (saves ModelBackend's queries).
    """
    if user is None or (scope == "visible" and sees_everyone(user, permissions=permissions)):
        scope_tag, key = "all", VERSION_ALL_KEY
    else:
        scope_tag, key = "own", _owner_key(user.pk)
    values, found = _read([key, VERSION_EVERYONE_KEY], also=also)
    if values is None:
        return None, {}
    return f"{scope_tag}:{values[0]}:{values[1]}", found


def cached_for(*, user: User | None, name: str, compute: Callable[[], T], scope: Scope = "visible") -> T:
    """`compute()`, cached per user (per visitor for None) under the current data version.

    `name` must say everything else the value depends on (e.g. "stats_totals:owner=5"). With the cache
    unavailable this is just `compute()`.
    """
    version = data_version(user=user, scope=scope)
    if version is None:
        return compute()
    # The build too: a value computed by the previous release may not have the shape this one expects.
    key = f"data:{name}:{user.pk if user is not None else 'anon'}:{version}:{build_id()}"
    try:
        value = cache.get(key)
    except Exception:
        logger.warning("cache unavailable: %s computed from the database", name, exc_info=True)
        return compute()
    if value is not None:
        return value
    value = compute()
    try:
        cache.set(key, value, CACHE_DATA_TIMEOUT)
    except Exception:
        logger.warning("cache unavailable: %s not stored", name, exc_info=True)
    return value
