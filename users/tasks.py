"""Background tasks of the account part (django.tasks API). Arguments are JSON-serialisable."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django_tasks import task

logger = logging.getLogger(__name__)


@task(queue_name="default")
def send_account_email(to: str, subject: str, body: str, html_body: str = "") -> None:
    """Send one already rendered account email (confirmation, password reset) to one address."""
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
    message = EmailMultiAlternatives(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [to],
        connection=connection,
        # RFC 3834: an automatic message; vacation responders must not answer it.
        headers={"Auto-Submitted": "auto-generated"},
    )
    if html_body:
        message.attach_alternative(html_body, "text/html")
    message.send()
    logger.info("account email sent to %s: %s", to, subject)
