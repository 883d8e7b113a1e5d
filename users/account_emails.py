"""Account emails handed to the task queue: a module of its own, so that the apps which send them (webhooks,
consents, the finish report) need not import the users' services, which reach into the mailings engine."""

from typing import Any

from django.db import transaction
from django.template import loader

from users.tasks import send_account_email


def account_email_enqueue(*, name: str, to: str, context: dict[str, Any]) -> None:
    """Render templates/emails/<name>_* now and hand the message to the task queue after commit.

    The web process never talks to the SMTP server; rendering here keeps the
    language of the request that caused the email.
    """
    subject = "".join(loader.render_to_string(f"emails/{name}_subject.txt", context).splitlines()).strip()
    body = loader.render_to_string(f"emails/{name}_body.txt", context)
    html_body = loader.render_to_string(f"emails/{name}_body.html", context)
    transaction.on_commit(lambda: send_account_email.enqueue(to, subject, body, html_body))
