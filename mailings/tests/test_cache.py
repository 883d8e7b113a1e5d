"""Server and browser caching of the mailings pages: per user, never stale, never shared, harmless when the cache
is away (core/data_versions.py, core/page_cache.py)."""

import logging
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from django.core.cache import cache
from django.core.cache.backends.base import BaseCache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core import data_versions as data_cache
from mailings.models import Attempt, Delivery, Mailing, Recipient
from mailings.selectors import home_figures
from mailings.tests.sending_support import fast_settings, smtp_server_on_free_port
from mailings.tests.world import make_attempt, make_mailing, make_message, make_recipient
from tests.support import SmtpServer, run_tasks
from users.models import User

pytestmark = pytest.mark.django_db

PAGES = [
    "mailings:recipient_list",
    "mailings:message_list",
    "mailings:mailing_list",
    "mailings:attempt_list",
    "mailings:stats",
]


def _signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    # The first page sets the CSRF cookie; pages are cacheable from the next request on.
    client.get(reverse("mailings:mailing_list"))
    return client


def _world(owner: User, other_user: User) -> dict[str, Mailing]:
    mailings = {}
    for user, subject in ((owner, "Тема владельца"), (other_user, "Тема другого")):
        recipient = make_recipient(user, f"client-of-{user.first_name}@example.com")
        mailing = make_mailing(user, message=make_message(user, subject), recipients=[recipient])
        make_attempt(mailing, states=[Delivery.State.SENT, Delivery.State.FAILED])
        mailings[user.first_name] = mailing
    return mailings


class BrokenCache(BaseCache):
    """A cache whose server is away and that says so (no IGNORE_EXCEPTIONS)."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server away")

    add = get = set = delete = touch = clear = get_many = set_many = _fail


BROKEN = {"default": {"BACKEND": "mailings.tests.test_cache.BrokenCache"}}
# django-redis as configured in settings, pointed at a port where nothing listens.
REDIS_AWAY = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
            "IGNORE_EXCEPTIONS": True,
        },
    }
}


@pytest.fixture(autouse=True)
def _no_pending_bumps() -> Iterator[None]:
    data_cache._pending.clear()
    yield
    data_cache._pending.clear()


# --- never shared ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_a_users_cached_page_never_reaches_another_user(owner: User, other_user: User, name: str) -> None:
    _world(owner, other_user)
    first, second = _signed_in(Client(), owner), _signed_in(Client(), other_user)
    for _ in range(2):
        mine = first.get(reverse(name))
        assert mine.status_code == 200 and "Тема другого" not in mine.content.decode()
    theirs = second.get(reverse(name))
    assert theirs.status_code == 200
    assert "client-of-owner" not in theirs.content.decode() and "Тема владельца" not in theirs.content.decode()
    assert mine["ETag"] != theirs["ETag"]
    # The other user's validator is worth nothing for the owner's page.
    assert first.get(reverse(name), headers={"if-none-match": theirs["ETag"]}).status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_a_managers_cached_page_never_reaches_a_plain_user_and_back(
    owner: User, other_user: User, manager: User, name: str
) -> None:
    _world(owner, other_user)
    boss, user = _signed_in(Client(), manager), _signed_in(Client(), owner)
    for _ in range(2):
        everyone = boss.get(reverse(name)).content.decode()
        assert "other@example.com" in everyone
        own = user.get(reverse(name)).content.decode()
        assert "other@example.com" not in own and "Тема другого" not in own


def test_home_figures_are_cached_per_user(client: Client, owner: User, other_user: User) -> None:
    _world(owner, other_user)
    make_recipient(owner, "second@example.com")
    client.force_login(owner)
    assert client.get(reverse("home")).context["figures"]["recipients_unique"] == 2
    client.force_login(other_user)
    assert client.get(reverse("home")).context["figures"]["recipients_unique"] == 1
    client.logout()
    assert client.get(reverse("home")).context["figures"]["recipients_unique"] == 3


def test_cached_values_live_under_the_users_key(owner: User, manager: User) -> None:
    calls: list[str] = []

    def compute(label: str) -> str:
        calls.append(label)
        return label

    for user, label in ((owner, "owner"), (manager, "manager"), (None, "anonymous")):
        assert data_cache.cached_for(user=user, name="probe", compute=partial(compute, label)) == label
        assert data_cache.cached_for(user=user, name="probe", compute=partial(compute, label)) == label
    assert calls == ["owner", "manager", "anonymous"]


# --- never stale ----------------------------------------------------------------------------------------------------


# Committed for real: data versions are bumped once the write's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_a_users_edit_shows_on_the_next_load_and_changes_the_etag(owner: User) -> None:
    client = _signed_in(Client(), owner)
    url = reverse("mailings:recipient_list")
    before = client.get(url)
    assert client.get(url, headers={"if-none-match": before["ETag"]}).status_code == 304

    response = client.post(
        reverse("mailings:recipient_create"),
        {
            "email": "new@example.com",
            "full_name": "Новый",
            "comment": "",
            "consent-source": "shop",
            "consent-kinds": "personal_data",
        },
    )
    assert response.status_code == 302
    client.get(response["Location"])  # shows (and consumes) the flash message

    after = client.get(url, headers={"if-none-match": before["ETag"]})
    assert after.status_code == 200 and "new@example.com" in after.content.decode()
    assert after["ETag"] != before["ETag"]
    assert client.get(url, headers={"if-none-match": after["ETag"]}).status_code == 304


# Committed for real: data versions are bumped once the write's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_a_managers_disabling_shows_on_the_owners_pages(owner: User, other_user: User, manager: User) -> None:
    mailing = _world(owner, other_user)["owner"]
    user, boss = _signed_in(Client(), owner), _signed_in(Client(), manager)
    detail = reverse("mailings:mailing_detail", args=[mailing.pk])
    assert 'id="mailing-disabled"' not in user.get(detail).content.decode()
    assert 'id="mailing-disabled"' not in boss.get(detail).content.decode()
    etag = user.get(detail)["ETag"]

    response = boss.post(reverse("mailings:mailing_disable", args=[mailing.pk]), {"reason": "жалобы на спам"})
    assert response.status_code == 302

    page = user.get(detail, headers={"if-none-match": etag})
    assert page.status_code == 200 and 'id="mailing-disabled"' in page.content.decode()
    boss.get(detail)  # the manager's flash message
    assert 'id="mailing-disabled"' in boss.get(detail).content.decode()


# Committed for real: data versions are bumped once the write's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_a_manager_renamed_shows_on_the_mailings_they_disabled(owner: User, manager: User) -> None:
    from moderation.services import mailing_disable
    from users.services import user_profile_update

    mailing = mailing_disable(mailing=make_mailing(owner), actor=manager, reason="спам")
    client = _signed_in(Client(), owner)
    detail = reverse("mailings:mailing_detail", args=[mailing.pk])
    etag = client.get(detail)["ETag"]
    assert client.get(detail, headers={"if-none-match": etag}).status_code == 304

    user_profile_update(user=manager, first_name="Ирина", last_name="Строгая", phone="", country="")

    page = client.get(detail, headers={"if-none-match": etag})
    assert page.status_code == 200 and "Ирина Строгая" in page.content.decode()


def test_a_finished_delivery_shows_on_the_next_load(
    owner: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    server: SmtpServer = smtp_server_on_free_port()
    fast_settings(settings, port=server.controller.port)
    try:
        recipients = [make_recipient(owner, "a@example.com"), make_recipient(owner, "b@example.com")]
        mailing = make_mailing(owner, recipients=recipients)
        client = _signed_in(Client(), owner)
        stats, attempts = reverse("mailings:stats"), reverse("mailings:attempt_list")
        before = client.get(stats)
        assert before.context["totals"]["delivered"] == 0
        etags = {url: client.get(url)["ETag"] for url in (stats, attempts)}

        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("mailings:mailing_send", args=[mailing.pk]))
        client.get(reverse("mailings:mailing_detail", args=[mailing.pk]))  # the flash message
        run_tasks()  # the worker's engine sends and records the outcomes
        assert Attempt.objects.get(mailing=mailing).status == Attempt.Status.SUCCESS and len(server.messages) == 2

        after = client.get(stats, headers={"if-none-match": etags[stats]})
        assert after.status_code == 200 and after.context["totals"]["delivered"] == 2
        listing = client.get(attempts, headers={"if-none-match": etags[attempts]})
        assert listing.status_code == 200 and "Успешно" in listing.content.decode()
    finally:
        server.stop()


# Committed for real: data versions are bumped once the write's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_an_engine_outcome_bumps_the_owners_version_only(owner: User, other_user: User) -> None:
    from mailings.delivery.run_finish import attempt_finish_if_done

    mailing = make_mailing(owner)
    attempt = make_attempt(mailing, states=[Delivery.State.SENT], status=Attempt.Status.IN_PROGRESS)
    mine, theirs = data_cache.data_version(user=owner), data_cache.data_version(user=other_user)
    everyone = data_cache.data_version(user=None)

    assert attempt_finish_if_done(attempt_id=attempt.pk)

    assert data_cache.data_version(user=owner) != mine
    assert data_cache.data_version(user=None) != everyone
    assert data_cache.data_version(user=other_user) == theirs


def test_a_lost_version_key_means_a_new_version(owner: User) -> None:
    client = _signed_in(Client(), owner)
    url = reverse("mailings:recipient_list")
    etag = client.get(url)["ETag"]
    # A write the cache never heard of, then the cache loses its keys (evicted, restarted).
    Recipient.objects.create(owner=owner, email="quiet@example.com", full_name="Тихий")
    cache.delete(f"ver:owner:{owner.pk}")

    page = client.get(url, headers={"if-none-match": etag})

    assert page.status_code == 200 and "quiet@example.com" in page.content.decode()


# Committed for real: data versions are bumped once the write's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_a_bump_inside_a_transaction_waits_for_the_commit(owner: User, monkeypatch: pytest.MonkeyPatch) -> None:
    before = data_cache.data_version(user=owner)
    with transaction.atomic():
        data_cache.data_version_bump(owner_id=owner.pk)
        # A page computed now reads the old data: it must be stored under the old version.
        assert data_cache.data_version(user=owner) == before
    assert data_cache.data_version(user=owner) != before


# --- the browser's cache --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_a_repeated_request_with_its_validator_gets_304(owner: User, other_user: User, name: str) -> None:
    _world(owner, other_user)
    client = _signed_in(Client(), owner)
    first = client.get(reverse(name))
    assert first.status_code == 200 and first["ETag"]

    again = client.get(reverse(name), headers={"if-none-match": first["ETag"]})

    assert again.status_code == 304 and again["ETag"] == first["ETag"] and again.content == b""
    assert "private" in again["Cache-Control"] and "no-cache" in again["Cache-Control"]


def test_detail_pages_have_validators(owner: User, other_user: User) -> None:
    mailing = _world(owner, other_user)["owner"]
    attempt, recipient = mailing.attempts.get(), mailing.recipients.get()
    client = _signed_in(Client(), owner)
    for url in (
        reverse("mailings:mailing_detail", args=[mailing.pk]),
        reverse("mailings:attempt_detail", args=[attempt.pk]),
        reverse("mailings:recipient_detail", args=[recipient.pk]),
        reverse("mailings:message_detail", args=[mailing.message_id]),
    ):
        etag = client.get(url)["ETag"]
        assert client.get(url, headers={"if-none-match": etag}).status_code == 304, url


def test_the_query_string_language_and_user_change_the_validator(owner: User) -> None:
    client = _signed_in(Client(), owner)
    url = reverse("mailings:recipient_list")
    etags = [
        client.get(url)["ETag"],
        client.get(url, {"q": "x"})["ETag"],
        client.get(url, headers={"accept-language": "en"})["ETag"],
    ]
    owner.first_name = "Переименован"  # the menu shows the name
    owner.save(update_fields=["first_name"])
    etags.append(client.get(url)["ETag"])
    assert len(set(etags)) == 4


def test_signed_in_pages_are_private_and_vary_on_cookie(owner: User) -> None:
    client = _signed_in(Client(), owner)
    for name in PAGES:
        response = client.get(reverse(name))
        assert "private" in response["Cache-Control"] and "no-cache" in response["Cache-Control"]
        assert "Cookie" in response["Vary"] and "Accept-Language" in response["Vary"]


def test_a_page_with_a_flash_message_is_never_answered_304(owner: User, manager: User) -> None:
    mailing = make_mailing(owner)
    client = _signed_in(Client(), manager)
    detail = reverse("mailings:mailing_detail", args=[mailing.pk])
    etag = client.get(detail)["ETag"]
    # «Рассылка уже включена.» changes nothing in the database: only the flash message is new.
    assert client.get(reverse("mailings:mailing_enable", args=[mailing.pk]))["Location"] == detail

    page = client.get(detail, headers={"if-none-match": etag})

    assert page.status_code == 200 and "Рассылка уже включена." in page.content.decode()
    assert not page.has_header("ETag")
    assert client.get(detail, headers={"if-none-match": etag}).status_code == 304


def test_a_run_in_progress_is_never_answered_from_cache(owner: User) -> None:
    mailing = make_mailing(owner)
    make_attempt(mailing, states=[Delivery.State.PENDING], status=Attempt.Status.IN_PROGRESS)
    client = _signed_in(Client(), owner)
    response = client.get(reverse("mailings:mailing_detail", args=[mailing.pk]))
    assert response.status_code == 200 and not response.has_header("ETag")
    assert "private" in response["Cache-Control"]


def test_the_first_request_without_a_csrf_cookie_gets_no_validator(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.get(reverse("mailings:mailing_list"))
    assert response.status_code == 200 and not response.has_header("ETag")
    assert response.cookies["csrftoken"].value


# --- the cache is away ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("caches", [BROKEN, REDIS_AWAY], ids=["raises", "redis-away"])
def test_pages_work_from_the_database_when_the_cache_is_away(
    owner: User, other_user: User, settings: Any, caplog: pytest.LogCaptureFixture, caches: dict
) -> None:
    _world(owner, other_user)
    client = _signed_in(Client(), owner)
    settings.DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    settings.CACHES = caches  # the cache handler is reset on this setting (django.test.signals)
    with caplog.at_level(logging.WARNING):
        # The home page also shows the blog's cached articles, which expect django-redis's IGNORE_EXCEPTIONS.
        for name in PAGES + (["home"] if caches is REDIS_AWAY else []):
            for _ in range(2):
                response = client.get(reverse(name))
                assert response.status_code == 200, name
                assert not response.has_header("ETag")
        if caches is REDIS_AWAY:
            assert client.get(reverse("home")).context["figures"] == home_figures(user=owner)
        mailing = Mailing.objects.get(owner=owner)
        response = client.post(reverse("mailings:mailing_delete", args=[mailing.pk]))
        assert response.status_code == 302 and not Mailing.objects.filter(pk=mailing.pk).exists()
    logger_name = "django_redis.cache" if caches is REDIS_AWAY else "core.data_versions"
    assert any(r.name == logger_name for r in caplog.records)


# Committed for real: data versions are bumped once the write's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_a_bump_the_cache_missed_is_made_when_it_is_back(owner: User, settings: Any) -> None:
    before = data_cache.data_version(user=owner)
    original = settings.CACHES
    settings.CACHES = BROKEN
    data_cache.data_version_bump(owner_id=owner.pk)
    assert data_cache.data_version(user=owner) is None
    assert data_cache._pending
    settings.CACHES = original

    assert data_cache.data_version(user=owner) != before
    assert not data_cache._pending


def test_every_signed_in_page_is_private(client: Client, owner: User) -> None:
    client.force_login(owner)
    for url in (reverse("users:profile"), reverse("mailings:recipient_create"), reverse("blog:list")):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "private" in response["Cache-Control"] and "no-cache" in response["Cache-Control"], url
    client.logout()
    assert "private" not in client.get(reverse("blog:list")).get("Cache-Control", "")


# Committed for real: data versions are bumped once the write's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_an_admin_edit_shows_on_the_owners_pages(owner: User) -> None:
    recipient = make_recipient(owner, "before@example.com")
    user = _signed_in(Client(), owner)
    url = reverse("mailings:recipient_list")
    etag = user.get(url)["ETag"]
    admin = Client()
    admin.force_login(User.objects.create_superuser(email="root@example.com", password="x"))

    response = admin.post(
        reverse("admin:mailings_recipient_change", args=[recipient.pk]),
        {"owner": owner.pk, "email": "after@example.com", "full_name": "Иван Петров", "comment": ""},
    )

    assert response.status_code == 302
    page = user.get(url, headers={"if-none-match": etag})
    assert page.status_code == 200 and "after@example.com" in page.content.decode()


@pytest.mark.parametrize("who", ["owner", "manager"])
def test_a_page_reads_the_users_permissions_once(owner: User, other_user: User, manager: User, who: str) -> None:
    """The validator's permission query also serves the view's and the navigation's has_perm() (core/page_cache.py)."""
    _world(owner, other_user)
    user = manager if who == "manager" else owner
    client = _signed_in(Client(), user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("mailings:stats"))
    assert response.status_code == 200
    assert sum('"auth_permission"' in q["sql"] for q in queries.captured_queries) == 1
    # What the permissions decide is unchanged: a manager sees every owner's mailings and the menu «Управление».
    content = response.content.decode()
    assert response.context["show_owner"] is (who == "manager")
    assert ("Управление" in content) is (who == "manager")
