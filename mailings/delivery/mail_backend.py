"""Django's SMTP email backend with Vestnik's wire format, for the emails Django sends itself.

Account emails (confirmation, password reset: users/tasks.py) and error reports go through
Django's mail API; this backend gives them the EHLO name of `compose.helo_domain` and builds the
bytes with `compose.standalone_message` (folded headers, quoted-printable bodies, Date in +0000)
instead of Django's 8-bit bodies, which went out without BODY=8BITMIME.
"""

import smtplib
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends import smtp

from mailings.delivery.compose import BuildError, helo_domain, smtp_address, standalone_message


class _SMTP(smtplib.SMTP):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["local_hostname"] = helo_domain()
        super().__init__(*args, **kwargs)


class _SMTPSSL(smtplib.SMTP_SSL):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["local_hostname"] = helo_domain()
        super().__init__(*args, **kwargs)


class EmailBackend(smtp.EmailBackend):
    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return _SMTPSSL if self.use_ssl else _SMTP

    def _send(self, email_message: EmailMessage) -> bool:
        if (
            email_message.attachments
            or email_message.cc
            or email_message.bcc
            or email_message.reply_to
            or email_message.content_subtype != "plain"
        ):
            # Nothing in Vestnik sends these; Django's own building handles them.
            return bool(super()._send(email_message))  # type: ignore[misc]
        if not email_message.recipients():
            return False
        html = None
        if isinstance(email_message, EmailMultiAlternatives):
            html = next(
                (str(content) for content, mimetype in email_message.alternatives if mimetype == "text/html"), None
            )
        try:
            data, _message_id = standalone_message(
                from_email=email_message.from_email,
                to=email_message.to,
                subject=str(email_message.subject),
                text=str(email_message.body),
                html=html,
                headers=[(name, str(value)) for name, value in email_message.extra_headers.items()],
            )
            from_addr = smtp_address(email_message.from_email.rpartition("<")[2].rstrip(">"))
            recipients = [smtp_address(a.rpartition("<")[2].rstrip(">")) for a in email_message.recipients()]
        except BuildError:
            if not self.fail_silently:
                raise
            return False
        assert self.connection is not None
        try:
            self.connection.sendmail(from_addr, recipients, data)
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True
