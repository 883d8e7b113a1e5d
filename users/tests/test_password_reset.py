import re
from datetime import timedelta
from typing import Any

from django.test import Client
from django.urls import reverse

from tests.support import SmtpServer, run_tasks
from users.models import User
from users.tests.factories import link_in

URL = reverse("users:password_reset")
NEW_PASSWORD = "brand-New-passphrase-77"


def _without_csrf(content: bytes) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", content.decode())


def _request_reset(client: Client, smtp_server: SmtpServer, address: str) -> str:
    client.post(URL, {"email": address})
    run_tasks()
    assert len(smtp_server.messages) == 1
    return link_in(smtp_server.messages[0])


def _set_new_password(client: Client, link: str) -> Any:
    # The emailed link stores the token in the session and redirects to a ".../set-password/" form.
    response = client.get(link, follow=True)
    assert response.status_code == 200
    assert response.context["validlink"]
    form_url = response.redirect_chain[-1][0]
    return client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})


def test_it_shows_the_form(client: Client, db: None) -> None:
    assert client.get(URL).status_code == 200


def test_a_known_address_gets_the_link_through_the_queue(
    client: Client, smtp_server: SmtpServer, transactional_db: None, owner: User
) -> None:
    response = client.post(URL, {"email": "Owner@Example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("users:password_reset_done")
    assert smtp_server.messages == []

    run_tasks()

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message.rcpt_tos == [owner.email]
    assert "Восстановление пароля" in message.subject
    assert link_in(message).startswith("/accounts/password/reset/")


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    client: Client, smtp_server: SmtpServer, transactional_db: None, owner: User
) -> None:
    known = client.post(URL, {"email": owner.email}, follow=True)
    unknown = client.post(URL, {"email": "nobody@example.com"}, follow=True)
    assert unknown.status_code == known.status_code == 200
    assert unknown.redirect_chain == known.redirect_chain
    assert _without_csrf(unknown.content) == _without_csrf(known.content)
    run_tasks()
    assert [m.rcpt_tos for m in smtp_server.messages] == [[owner.email]]


def test_a_blocked_user_gets_no_mail(
    client: Client, smtp_server: SmtpServer, transactional_db: None, blocked_user: User
) -> None:
    response = client.post(URL, {"email": blocked_user.email})
    assert response["Location"] == reverse("users:password_reset_done")
    run_tasks()
    assert smtp_server.messages == []


def test_the_reset_completes_and_the_link_works_once(
    client: Client, smtp_server: SmtpServer, transactional_db: None, owner: User
) -> None:
    link = _request_reset(client, smtp_server, owner.email)
    response = _set_new_password(client, link)
    assert response.status_code == 302
    assert response["Location"] == reverse("users:password_reset_complete")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)

    again = client.get(link, follow=True)
    assert again.context["validlink"] is False
    assert "Ссылка недействительна" in again.content.decode()


def test_resetting_proves_an_unconfirmed_address(
    client: Client, smtp_server: SmtpServer, transactional_db: None
) -> None:
    user = User.objects.create_user(email="new@example.com", password="forgotten-Pass-1", is_active=False)
    link = _request_reset(client, smtp_server, "new@example.com")
    assert _set_new_password(client, link).status_code == 302
    user.refresh_from_db()
    assert user.is_active
    assert user.email_confirmed_at is not None
    response = client.post(reverse("users:login"), {"username": "new@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302


def test_a_reset_does_not_unblock(client: Client, transactional_db: None, blocked_user: User) -> None:
    from users.services import user_password_reset_complete

    user_password_reset_complete(user=blocked_user, password=NEW_PASSWORD)
    blocked_user.refresh_from_db()
    assert not blocked_user.is_active
    assert blocked_user.check_password(NEW_PASSWORD)


def test_the_pages_render(client: Client, db: None) -> None:
    for name in ("users:password_reset_done", "users:password_reset_complete"):
        assert client.get(reverse(name)).status_code == 200
    bad = client.get(reverse("users:password_reset_confirm", args=["MQ", "bad-token"]))
    assert bad.status_code == 200
    assert "Ссылка недействительна" in bad.content.decode()


def test_one_address_gets_one_link_per_interval_and_the_same_page(
    client: Client, smtp_server: SmtpServer, transactional_db: None, owner: User
) -> None:
    first = client.post(URL, {"email": owner.email}, follow=True)
    pages = [client.post(URL, {"email": owner.email.upper()}, follow=True) for _ in range(19)]
    assert all(_without_csrf(page.content) == _without_csrf(first.content) for page in pages)
    run_tasks()
    assert len(smtp_server.messages) == 1


def test_one_client_address_gets_a_limited_number_of_links_per_hour(
    client: Client, smtp_server: SmtpServer, transactional_db: None, settings: Any, owner: User, other_user: User
) -> None:
    settings.PASSWORD_RESET_PER_IP = 2
    third = User.objects.create_user(email="third@example.com", password="x-Very-long-pass-1")
    for address in (owner.email, "nobody@example.com", other_user.email, third.email):
        assert client.post(URL, {"email": address}).status_code == 302
    run_tasks()
    # The unknown address used up one of the two: the limit counts requests, not what they found.
    assert [m.rcpt_tos for m in smtp_server.messages] == [[owner.email]]
    other_client = Client(REMOTE_ADDR="10.0.0.9")
    other_client.post(URL, {"email": third.email})
    run_tasks()
    assert [m.rcpt_tos for m in smtp_server.messages][-1] == [third.email]


def test_the_per_address_interval_passes(
    client: Client, smtp_server: SmtpServer, transactional_db: None, owner: User, settings: Any
) -> None:
    import time_machine
    from django.utils import timezone

    client.post(URL, {"email": owner.email})
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.ACCOUNT_RESEND_INTERVAL + 1)):
        client.post(URL, {"email": owner.email})
    run_tasks()
    assert len(smtp_server.messages) == 2


def test_a_reset_token_never_looks_like_a_bitcoin_address(db: None) -> None:
    """SpamAssassin's PDS_BTC_ID (+1.0) takes a word of 26–35 base58 characters starting with 1 or 3 for a Bitcoin
    address; Django's bare hex digest is one about once in sixty. The token's digest is marked by a letter."""
    import re

    from users.models import User
    from users.tokens import reset_token_generator

    bitcoin_like = re.compile(r"\b[13][a-km-zA-HJ-NP-Z1-9]{25,34}\b")
    user = User.objects.create_user(email="btc@example.com", password="x-Long-passphrase-1")
    for second in range(300):
        token = reset_token_generator._make_token_with_timestamp(user, 10**8 + second, reset_token_generator.secret)
        assert "-h" in token and not bitcoin_like.search(token), token
    assert reset_token_generator.check_token(user, reset_token_generator.make_token(user))
