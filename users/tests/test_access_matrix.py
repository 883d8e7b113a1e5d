"""Every URL of the site, for six actors, GET and POST, against a table of expected outcomes.

The URLs come from the URLconf itself (django.urls.get_resolver()), so a new view that is not
in ROUTES fails here until someone decides who may open it. Every refused write (and every GET)
must leave the database exactly as it was. The blocked user is always logged out and sent to
the login page, whatever they ask for.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from users.models import User
from users.tests.access_world import ACTORS, SMTP_PASSWORD, World, db_snapshot, world_build

PASSWORD = "correct-horse-battery-staple"
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
# The REST API has its own table, by token kind: test_access_matrix_api.py.
SKIPPED_PREFIXES = ("admin/", "i18n/", "static/", "media/", "health/", "favicon.ico", "api/v1/")

OK, FOUND, BAD, DENIED, MISSING, NOT_ALLOWED = 200, 302, 400, 403, 404, 405
LOGIN = "login"  # 302 to the login page

Expected = int | str | frozenset[int]
Row = tuple[Expected, Expected, Expected, Expected, Expected]  # anonymous, owner, other, manager, superuser


@dataclass(frozen=True)
class Route:
    get: Row
    post: Row
    kwargs: Callable[[World], dict[str, Any]] = lambda w: {}
    data: Callable[[World], dict[str, Any]] = lambda w: {}

    def expected(self, method: str, actor: str) -> Expected:
        if actor == "blocked":
            return LOGIN
        row = self.get if method == "get" else self.post
        return dict(zip(["anonymous", "owner", "other", "manager", "superuser"], row, strict=True))[actor]


def _all(outcome: Expected) -> Row:
    return (outcome, outcome, outcome, outcome, outcome)


def _signed_in(outcome: Expected) -> Row:
    return (LOGIN, outcome, outcome, outcome, outcome)


PUBLIC_READ = Route(get=_all(OK), post=_all(NOT_ALLOWED))
PRIVATE_READ = Route(get=_signed_in(OK), post=_signed_in(NOT_ALLOWED))
OBJECT_READ = (LOGIN, OK, MISSING, OK, OK)
OBJECT_WRITE = (LOGIN, FOUND, MISSING, DENIED, DENIED)
OBJECT_WRITE_PAGE = (LOGIN, OK, MISSING, DENIED, DENIED)
MANAGER_PAGE = (LOGIN, DENIED, DENIED, OK, OK)
CONTENT_PAGE = (LOGIN, DENIED, DENIED, DENIED, OK)
CONTENT_WRITE = (LOGIN, DENIED, DENIED, DENIED, FOUND)


def _pk(attr: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"pk": getattr(w, attr).pk}


def _user_pk(actor: str) -> Callable[[World], dict[str, Any]]:
    def data(w: World) -> dict[str, Any]:
        user = w.users[actor]
        assert user is not None  # only the anonymous visitor has no account, and nobody names it here
        return {"pk": user.pk}

    return data


def _mailing_data(w: World) -> dict[str, Any]:
    start = timezone.localtime() + timedelta(days=2)
    return {
        "message": w.message.pk,
        "recipients": [w.recipient.pk],
        "start_at": start.strftime("%Y-%m-%dT%H:%M"),
        "end_at": (start + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
        "periodicity": "daily",
    }


def _article_data(w: World) -> dict[str, Any]:
    return {"title": "Изменено", "body": "Новый текст", "is_published": "", "published_at": ""}


REASON = lambda w: {"reason": "нарушение правил"}  # noqa: E731


def _smtp_account_data(w: World) -> dict[str, Any]:
    return {
        "name": "Новый ящик",
        "host": "smtp.example.org",
        "port": "587",
        "security": "starttls",
        "login": "new@example.org",
        "password": "another-app-password",
        "from_email": "new@example.org",
        "from_name": "",
        "reply_to": "",
        "limit_per_second": "0",
        "limit_per_hour": "0",
        "limit_per_day": "500",
    }


def _webhook_endpoint_data(w: World) -> dict[str, Any]:
    return {
        "url": "https://crm.example.org/vestnik",
        "description": "CRM",
        "events": ["run.finished", "delivery.failed"],
    }


def _bounce_mailbox_data(w: World) -> dict[str, Any]:
    return {
        "host": "imap.yandex.ru",
        "port": "993",
        "security": "ssl",
        "login": "shop@yandex.ru",
        "password": "another-app-password",
        "folder": "INBOX",
        "is_enabled": "on",
    }


ROUTES: dict[str, Route] = {
    # --- public and account pages -----------------------------------------------------------------
    "home": PUBLIC_READ,
    "blog:list": PUBLIC_READ,
    "blog:detail": Route(get=_all(OK), post=_all(NOT_ALLOWED), kwargs=_pk("article")),
    "users:login": Route(get=(OK, FOUND, FOUND, FOUND, FOUND), post=(OK, FOUND, FOUND, FOUND, FOUND)),
    "users:logout": Route(get=_all(NOT_ALLOWED), post=_all(FOUND)),
    "users:register": Route(get=(OK, FOUND, FOUND, FOUND, FOUND), post=(OK, FOUND, FOUND, FOUND, FOUND)),
    "users:register_done": PUBLIC_READ,
    "users:confirm_email": Route(get=_all(BAD), post=_all(BAD), kwargs=lambda w: {"token": "not-a-token"}),
    "users:resend_confirmation": Route(get=_all(OK), post=_all(OK)),
    "users:password_reset": Route(get=_all(OK), post=_all(FOUND), data=lambda w: {"email": "owner@example.com"}),
    "users:password_reset_done": PUBLIC_READ,
    "users:password_reset_confirm": Route(
        get=_all(OK), post=_all(OK), kwargs=lambda w: {"uidb64": "MQ", "token": "not-a-token"}
    ),
    "users:password_reset_complete": PUBLIC_READ,
    "users:profile": PRIVATE_READ,
    "users:profile_edit": Route(
        get=_signed_in(OK),
        post=_signed_in(FOUND),
        data=lambda w: {"first_name": "Имя", "last_name": "", "phone": "", "country": ""},
    ),
    "users:delete": Route(get=_signed_in(OK), post=_signed_in(FOUND), data=lambda w: {"password": PASSWORD}),
    "users:password_change": Route(
        get=_signed_in(OK),
        post=_signed_in(FOUND),
        data=lambda w: {
            "old_password": PASSWORD,
            "new_password1": "Another-long-pass-42",
            "new_password2": "Another-long-pass-42",
        },
    ),
    # --- personal API tokens (api/views.py): each user's own; nobody else's is ever found -----------------
    "api_tokens:token_list": Route(
        get=_signed_in(OK), post=_signed_in(FOUND), data=lambda w: {"name": "Магазин", "scope": "read"}
    ),
    "api_tokens:token_revoke": Route(
        get=_signed_in(NOT_ALLOWED), post=(LOGIN, FOUND, MISSING, MISSING, MISSING), kwargs=_pk("api_token")
    ),
    # --- managers ----------------------------------------------------------------------------------
    "users:user_list": Route(get=MANAGER_PAGE, post=_signed_in(NOT_ALLOWED)),
    "users:audit_log": Route(get=MANAGER_PAGE, post=_signed_in(NOT_ALLOWED)),
    "mailings:mail_dns": Route(get=MANAGER_PAGE, post=_signed_in(NOT_ALLOWED)),
    # The owner sees their own account (403: no permission); anyone else's is a 404 for plain users.
    "users:user_block": Route(
        get=(LOGIN, DENIED, MISSING, OK, OK),
        post=(LOGIN, DENIED, MISSING, FOUND, FOUND),
        kwargs=_user_pk("owner"),
        data=REASON,
    ),
    "users:user_unblock": Route(
        get=(LOGIN, MISSING, MISSING, OK, OK),
        post=(LOGIN, MISSING, MISSING, FOUND, FOUND),
        kwargs=_user_pk("blocked"),
        data=REASON,
    ),
    "mailings:mailing_disable": Route(
        get=(LOGIN, DENIED, MISSING, OK, OK),
        post=(LOGIN, DENIED, MISSING, FOUND, FOUND),
        kwargs=_pk("mailing"),
        data=REASON,
    ),
    "mailings:mailing_enable": Route(
        get=(LOGIN, DENIED, MISSING, OK, OK),
        post=(LOGIN, DENIED, MISSING, FOUND, FOUND),
        kwargs=_pk("disabled_mailing"),
        data=REASON,
    ),
    # --- blog management (content managers; of our actors only the superuser) -----------------------
    "blog:manage": Route(get=CONTENT_PAGE, post=(LOGIN, DENIED, DENIED, DENIED, NOT_ALLOWED)),
    "blog:create": Route(get=CONTENT_PAGE, post=CONTENT_WRITE, data=_article_data),
    "blog:update": Route(get=CONTENT_PAGE, post=CONTENT_WRITE, kwargs=_pk("article"), data=_article_data),
    "blog:delete": Route(get=CONTENT_PAGE, post=CONTENT_WRITE, kwargs=_pk("article")),
    # --- the owner's data --------------------------------------------------------------------------
    "mailings:recipient_list": PRIVATE_READ,
    "mailings:message_list": PRIVATE_READ,
    "mailings:mailing_list": PRIVATE_READ,
    "mailings:attempt_list": PRIVATE_READ,
    "mailings:stats": PRIVATE_READ,
    "mailings:recipient_create": Route(
        get=_signed_in(OK),
        post=_signed_in(FOUND),
        data=lambda w: {
            "email": "new@example.com",
            "full_name": "Новый",
            "consent-source": "shop",
            "consent-kinds": ["personal_data"],
        },
    ),
    "mailings:message_create": Route(
        get=_signed_in(OK), post=_signed_in(FOUND), data=lambda w: {"subject": "Тема", "body": "Текст"}
    ),
    # Only the owner may build a mailing of the owner's message and recipients: for anyone else the ids
    # are not among the choices and the form comes back with errors.
    "mailings:mailing_create": Route(get=_signed_in(OK), post=(LOGIN, FOUND, OK, OK, OK), data=_mailing_data),
    "mailings:recipient_detail": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("recipient")),
    "mailings:message_detail": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("message")),
    "mailings:mailing_detail": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("mailing")),
    "mailings:attempt_detail": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("attempt")),
    "mailings:mailing_progress": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("mailing")),
    "mailings:attempt_progress": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("attempt")),
    "mailings:recipient_update": Route(
        get=OBJECT_WRITE_PAGE,
        post=OBJECT_WRITE,
        kwargs=_pk("recipient"),
        data=lambda w: {"email": "changed@example.com", "full_name": "Изменён", "comment": ""},
    ),
    "mailings:recipient_delete": Route(get=OBJECT_WRITE_PAGE, post=OBJECT_WRITE, kwargs=_pk("recipient")),
    "mailings:message_update": Route(
        get=OBJECT_WRITE_PAGE,
        post=OBJECT_WRITE,
        kwargs=_pk("message"),
        data=lambda w: {"subject": "Изменено", "body": "Изменено"},
    ),
    "mailings:message_delete": Route(get=OBJECT_WRITE_PAGE, post=OBJECT_WRITE, kwargs=_pk("message")),
    # The preview shows what a recipient gets and offers the test send: the owner's tools, like editing.
    "mailings:message_preview": Route(get=OBJECT_WRITE_PAGE, post=_signed_in(NOT_ALLOWED), kwargs=_pk("message")),
    "mailings:message_preview_html": Route(get=OBJECT_WRITE_PAGE, post=_signed_in(NOT_ALLOWED), kwargs=_pk("message")),
    "mailings:message_test_send": Route(get=_signed_in(NOT_ALLOWED), post=OBJECT_WRITE, kwargs=_pk("message")),
    "mailings:mailing_update": Route(
        get=OBJECT_WRITE_PAGE, post=OBJECT_WRITE, kwargs=_pk("mailing"), data=_mailing_data
    ),
    "mailings:mailing_delete": Route(get=OBJECT_WRITE_PAGE, post=OBJECT_WRITE, kwargs=_pk("mailing")),
    "mailings:mailing_send": Route(get=_signed_in(NOT_ALLOWED), post=OBJECT_WRITE, kwargs=_pk("mailing")),
    "mailings:attempt_retry": Route(get=_signed_in(NOT_ALLOWED), post=OBJECT_WRITE, kwargs=_pk("attempt")),
    # --- lists, imports, exports (audience) ----------------------------------------------------------
    "audience:list_index": PRIVATE_READ,
    "audience:list_create": Route(get=_signed_in(OK), post=_signed_in(FOUND), data=lambda w: {"name": "Новый список"}),
    "audience:list_detail": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("recipient_list")),
    "audience:list_update": Route(
        get=OBJECT_WRITE_PAGE, post=OBJECT_WRITE, kwargs=_pk("recipient_list"), data=lambda w: {"name": "Другое"}
    ),
    "audience:list_delete": Route(get=OBJECT_WRITE_PAGE, post=OBJECT_WRITE, kwargs=_pk("recipient_list")),
    "audience:list_member_remove": Route(
        get=_signed_in(NOT_ALLOWED),
        post=OBJECT_WRITE,
        kwargs=_pk("recipient_list"),
        data=lambda w: {"recipient": w.recipient.pk},
    ),
    # Another user's (or a manager's) request names a list that is not theirs: 404, nothing written.
    "audience:bulk_membership": Route(
        get=_signed_in(NOT_ALLOWED),
        post=(LOGIN, FOUND, MISSING, MISSING, MISSING),
        data=lambda w: {"target": w.recipient_list.pk, "action": "remove", "q": ""},
    ),
    "audience:picker": PRIVATE_READ,
    "audience:audience_count": PRIVATE_READ,
    "audience:import_list": PRIVATE_READ,
    # Anyone signed in may upload a file of their own.
    "audience:import_create": Route(
        get=_signed_in(OK),
        post=_signed_in(FOUND),
        data=lambda w: {"file": SimpleUploadedFile("clients.csv", b"email;name\r\nanna@example.com;Anna\r\n")},
    ),
    "audience:import_detail": Route(get=OBJECT_READ, post=OBJECT_WRITE, kwargs=_pk("import_job")),
    "audience:import_rejected": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("import_job")),
    "audience:export_recipients": PRIVATE_READ,
    "audience:export_attempt": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("attempt")),
    "audience:export_stats": PRIVATE_READ,
    # --- unsubscribe (public: the token is the authority) and the suppression list (suppressions/) -----
    "suppressions:unsubscribe": Route(
        get=_all(OK), post=_all(FOUND), kwargs=lambda w: {"token": w.unsubscribe_token}, data=lambda w: {"reason": "x"}
    ),
    # RFC 8058 one-click: a mail client's POST, no cookies, no CSRF token (CSRF_EXEMPT below); a GET shows the page.
    "suppressions:one_click": Route(
        get=_all(FOUND),
        post=_all(OK),
        kwargs=lambda w: {"token": w.unsubscribe_token},
        data=lambda w: {"List-Unsubscribe": "One-Click"},
    ),
    "suppressions:suppression_list": PRIVATE_READ,
    "suppressions:suppression_create": Route(
        get=_signed_in(OK),
        post=_signed_in(FOUND),
        data=lambda w: {"email": "asked@example.com", "reason": "по телефону"},
    ),
    "suppressions:suppression_remove": Route(
        get=OBJECT_WRITE_PAGE,
        post=OBJECT_WRITE,
        kwargs=_pk("suppression"),
        data=lambda w: {"statement": "Подписался снова на выставке 12.03", "confirm": "on"},
    ),
    # --- SMTP accounts (senders/) ----------------------------------------------------------------------
    "senders:smtp_account_list": PRIVATE_READ,
    "senders:smtp_account_create": Route(get=_signed_in(OK), post=_signed_in(FOUND), data=_smtp_account_data),
    "senders:smtp_account_detail": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("smtp_account")),
    "senders:smtp_account_update": Route(
        get=OBJECT_WRITE_PAGE, post=OBJECT_WRITE, kwargs=_pk("smtp_account"), data=_smtp_account_data
    ),
    # The world's account is chosen by a mailing: the owner's delete is refused with a message (a redirect).
    "senders:smtp_account_delete": Route(get=OBJECT_WRITE_PAGE, post=OBJECT_WRITE, kwargs=_pk("smtp_account")),
    "senders:smtp_account_check": Route(get=_signed_in(NOT_ALLOWED), post=OBJECT_WRITE, kwargs=_pk("smtp_account")),
    "senders:smtp_account_disable": Route(
        get=(LOGIN, DENIED, MISSING, OK, OK),
        post=(LOGIN, DENIED, MISSING, FOUND, FOUND),
        kwargs=_pk("smtp_account"),
        data=REASON,
    ),
    "senders:smtp_account_enable": Route(
        get=(LOGIN, DENIED, MISSING, OK, OK),
        post=(LOGIN, DENIED, MISSING, FOUND, FOUND),
        kwargs=_pk("disabled_smtp_account"),
        data=REASON,
    ),
    # --- webhook endpoints (webhooks/): managers read them, without the secret ------------------------------
    "webhooks:endpoint_list": PRIVATE_READ,
    "webhooks:endpoint_create": Route(get=_signed_in(OK), post=_signed_in(FOUND), data=_webhook_endpoint_data),
    "webhooks:endpoint_detail": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("webhook_endpoint")),
    "webhooks:endpoint_update": Route(
        get=OBJECT_WRITE_PAGE, post=OBJECT_WRITE, kwargs=_pk("webhook_endpoint"), data=_webhook_endpoint_data
    ),
    "webhooks:endpoint_delete": Route(get=OBJECT_WRITE_PAGE, post=OBJECT_WRITE, kwargs=_pk("webhook_endpoint")),
    "webhooks:endpoint_enable": Route(get=_signed_in(NOT_ALLOWED), post=OBJECT_WRITE, kwargs=_pk("webhook_endpoint")),
    "webhooks:endpoint_disable": Route(get=_signed_in(NOT_ALLOWED), post=OBJECT_WRITE, kwargs=_pk("webhook_endpoint")),
    "webhooks:endpoint_rotate_secret": Route(
        get=_signed_in(NOT_ALLOWED), post=OBJECT_WRITE, kwargs=_pk("webhook_endpoint")
    ),
    # --- consents ---------------------------------------------------------------------------------------
    # Everyone signed in has wording of their own (a manager's is the manager's own, not the owners').
    "consents:wording_edit": Route(
        get=_signed_in(OK), post=_signed_in(FOUND), data=lambda w: {"kind": "advertising", "text": "Новый текст"}
    ),
    "consents:wording_detail": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("wording")),
    "consents:export_all": PRIVATE_READ,
    "consents:export_recipient": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("recipient")),
    "consents:subscribe_settings": Route(get=OBJECT_READ, post=OBJECT_WRITE, kwargs=_pk("recipient_list")),
    # Public: the form's page, its POST (csrf-exempt: see CSRF_EXEMPT) and the «check your mail» page.
    "consents:subscribe": Route(
        get=_all(OK),
        post=_all(FOUND),
        kwargs=lambda w: {"token": w.subscribe_form.token},
        data=lambda w: {"email": "visitor@example.com", "personal_data": "on", "advertising": "on"},
    ),
    "consents:subscribe_sent": Route(
        get=_all(OK), post=_all(NOT_ALLOWED), kwargs=lambda w: {"token": w.subscribe_form.token}
    ),
    "consents:subscribe_confirm": Route(get=_all(BAD), post=_all(BAD), kwargs=lambda w: {"token": "not-a-token"}),
    # --- bounce processing (bounces/): each user's own mailbox; managers read everyone's -------------------
    "bounces:mailbox": PRIVATE_READ,
    "bounces:mailbox_edit": Route(get=_signed_in(OK), post=_signed_in(FOUND), data=_bounce_mailbox_data),
    # Only the world's owner has a mailbox to check; everyone else has none (404), managers included.
    "bounces:mailbox_check": Route(get=_signed_in(NOT_ALLOWED), post=(LOGIN, FOUND, MISSING, MISSING, MISSING)),
    "bounces:mailbox_list": Route(get=MANAGER_PAGE, post=_signed_in(NOT_ALLOWED)),
    "bounces:mailbox_detail": Route(get=OBJECT_READ, post=_signed_in(NOT_ALLOWED), kwargs=_pk("bounce_mailbox")),
}

# POSTs that take no CSRF token, each with the reason it is safe.
CSRF_EXEMPT = {
    # The owner's snippet posts from another site; the POST only keeps a pending subscription and sends at most
    # one rate-limited confirmation email. Nothing changes until the address's owner confirms (with a token).
    "consents:subscribe",
    # RFC 8058 one-click unsubscribe: a mail client posts it without cookies.
    "suppressions:one_click",
}


@dataclass(frozen=True)
class UrlEntry:
    name: str
    route: str
    params: tuple[str, ...] = field(default=())


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[UrlEntry]:
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}{pattern.namespace}:"
            yield from _walk(pattern, route, ns)
        elif isinstance(pattern, URLPattern):
            if route.startswith(SKIPPED_PREFIXES):
                continue
            name = f"{namespace}{pattern.name}" if pattern.name else f"<unnamed {route}>"
            yield UrlEntry(name=name, route=route, params=tuple(pattern.pattern.regex.groupindex))


def site_urls() -> list[UrlEntry]:
    """Every URL pattern of the site except admin, i18n, static/media and health, with its namespaced name."""
    entries = [e for e in _walk(get_resolver()) if not e.route.startswith(SKIPPED_PREFIXES)]
    return sorted({e.name: e for e in entries}.values(), key=lambda e: e.name)


URLS = site_urls()


def test_the_table_has_no_stale_entries() -> None:
    assert sorted(set(ROUTES) - {e.name for e in URLS}) == []


def test_the_walk_finds_the_namespaced_object_urls() -> None:
    names = {e.name: e for e in URLS}
    assert names["mailings:mailing_update"].params == ("pk",)
    assert "blog:detail" in names and "users:user_block" in names and "home" in names
    assert not any(e.route.startswith("admin/") for e in URLS)


@pytest.fixture
def world(owner: User, other_user: User, manager: User, blocked_user: User) -> World:
    return world_build(owner=owner, other=other_user, manager=manager, blocked=blocked_user)


def _client_for(world: World, actor: str, **client_kwargs: Any) -> Client:
    client = Client(**client_kwargs)
    user = world.users[actor]
    if user is not None:
        client.force_login(user)
    return client


def _check(response: Any, expected: Expected, *, what: str) -> None:
    if expected == LOGIN:
        assert response.status_code == FOUND, what
        assert response.url.startswith(reverse("users:login")), (what, response.url)
    elif isinstance(expected, frozenset):
        assert response.status_code in expected, (what, response.status_code)
    else:
        assert response.status_code == expected, (what, response.status_code)
        if expected == FOUND:
            assert not response.url.startswith(reverse("users:login")), (what, response.url)


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("entry", URLS, ids=lambda e: e.name)
def test_access(entry: UrlEntry, actor: str, method: str, world: World) -> None:
    route = ROUTES.get(entry.name)
    assert route is not None, f"{entry.name} ({entry.route}) is not in ROUTES: say who may open it"
    world = world
    url = reverse(entry.name, kwargs=route.kwargs(world))
    if entry.params:
        assert set(route.kwargs(world)) == set(entry.params), entry.name
    client = _client_for(world, actor)
    expected = route.expected(method, actor)
    before = db_snapshot()

    response = client.get(url) if method == "get" else client.post(url, route.data(world))

    what = f"{method.upper()} {url} as {actor}"
    _check(response, expected, what=what)
    if method == "get" or (expected != FOUND and entry.name not in WRITES_ANSWERING_OK):
        # Reads never write; a refused write (or a form sent back with errors) leaves every row as it was.
        assert db_snapshot() == before, what
    if actor == "blocked":
        assert SESSION_KEY not in client.session, what


# Writes answered 200, not with a redirect: RFC 8058 asks a one-click unsubscribe for a plain success.
WRITES_ANSWERING_OK = {"suppressions:one_click"}


def _post_endpoints() -> list[tuple[str, str]]:
    """(url name, an actor the view would serve) for every URL that takes a POST from someone."""
    cases = []
    for entry in URLS:
        route = ROUTES.get(entry.name)
        if route is None or entry.name in CSRF_EXEMPT:
            continue
        for actor in ["owner", "manager", "superuser", "anonymous"]:
            if route.expected("post", actor) not in (LOGIN, NOT_ALLOWED, DENIED, MISSING):
                cases.append((entry.name, actor))
                break
    return cases


@pytest.mark.parametrize(("name", "actor"), _post_endpoints())
def test_every_post_needs_the_csrf_token(name: str, actor: str, world: World) -> None:
    world = world
    route = ROUTES[name]
    client = _client_for(world, actor, enforce_csrf_checks=True)
    before = db_snapshot()

    response = client.post(reverse(name, kwargs=route.kwargs(world)), route.data(world))

    assert response.status_code == DENIED
    assert db_snapshot() == before


def test_the_csrf_exempt_subscribe_form_takes_a_post_from_another_site(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    route = ROUTES["consents:subscribe"]
    response = client.post(
        reverse("consents:subscribe", kwargs=route.kwargs(world)),
        route.data(world),
        headers={"origin": "https://shop.example.org"},
    )
    assert response.status_code == FOUND


def test_the_csrf_list_covers_the_writes() -> None:
    names = {name for name, _actor in _post_endpoints()}
    assert {
        "mailings:mailing_update",
        "mailings:mailing_send",
        "mailings:mailing_disable",
        "users:user_block",
        "users:logout",
        "blog:create",
    } <= names


# Pages a manager opens on which the hostile text must be shown, escaped.
SHOWS_THE_TEXT = {
    "mailings:recipient_list",
    "mailings:recipient_detail",
    "mailings:message_list",
    "mailings:message_detail",
    "mailings:mailing_list",
    "mailings:mailing_detail",
    "mailings:mailing_disable",
    "mailings:mailing_enable",
    "mailings:attempt_list",
    "mailings:attempt_detail",
    "mailings:stats",
    "users:user_list",
    "users:user_unblock",
    "users:audit_log",
    "audience:list_index",
    "audience:list_detail",
    "audience:import_list",
    "audience:import_detail",
    "senders:smtp_account_list",
    "senders:smtp_account_detail",
    "senders:smtp_account_disable",
    "senders:smtp_account_enable",
    "webhooks:endpoint_list",
    "webhooks:endpoint_detail",
    "consents:wording_detail",
    "consents:subscribe_settings",
    "bounces:mailbox_list",
    "bounces:mailbox_detail",
    "suppressions:suppression_list",
}


def test_a_script_is_escaped_on_every_page_a_manager_opens(
    owner: User, other_user: User, manager: User, blocked_user: User
) -> None:
    world = world_build(owner=owner, other=other_user, manager=manager, blocked=blocked_user, text=SCRIPT)
    User.objects.filter(pk=blocked_user.pk).update(block_reason=SCRIPT)
    client = _client_for(world, "manager")
    opened = set()
    for entry in URLS:
        route = ROUTES[entry.name]
        if route.expected("get", "manager") != OK:
            continue
        response = client.get(reverse(entry.name, kwargs=route.kwargs(world)))
        assert response.status_code == OK, entry.name
        if not response["Content-Type"].startswith("text/html"):
            continue  # downloads and JSON: the text as it is, for a spreadsheet or a script, never as HTML
        content = response.content.decode()
        assert SCRIPT not in content, entry.name
        assert SMTP_PASSWORD not in content, entry.name
        assert world.webhook_endpoint.secret not in content, entry.name
        if entry.name in SHOWS_THE_TEXT:
            assert ESCAPED in content, entry.name
        opened.add(entry.name)
    assert opened >= SHOWS_THE_TEXT
