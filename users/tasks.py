"""Background tasks of the account part (django.tasks API). Arguments are JSON-serialisable."""

import logging

from django_tasks import task

from mailings.delivery.account_mail import account_email_send

logger = logging.getLogger(__name__)


@task(queue_name="default")
def send_account_email(to: str, subject: str, body: str, html_body: str = "", tries: int = 0) -> None:
    """Send one already rendered account email (confirmation, password reset) to one address.

    Through the service's SMTP account rules (mailings/delivery/account_mail.py): when the server is away,
    paused or the sending limit is reached, the task enqueues itself again for when it may send.
    """
    outcome = account_email_send(to=to, subject=subject, body=body, html_body=html_body, tries=tries)
    if outcome.sent:
        logger.info("account email sent to %s: %s", to, subject)
        return
    if outcome.retry_at is None:
        logger.error("account email to %s given up: %s (%s)", to, subject, outcome.why)
        return
    # The server's own trouble counts towards giving up; waiting for a limit or a pause does not.
    counted = tries + 1 if outcome.server_trouble else tries
    send_account_email.using(run_after=outcome.retry_at).enqueue(to, subject, body, html_body, counted)
    logger.warning("account email to %s delayed until %s: %s", to, outcome.retry_at.isoformat(), outcome.why)
