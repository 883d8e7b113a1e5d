import logging

from django.apps import AppConfig


class BouncesConfig(AppConfig):
    """Bounce reports (DSN) and complaints (ARF) read from an owner's IMAP mailbox or piped in by a mail server."""

    name = "bounces"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # flufl.bounce logs every detector it runs at INFO: a line per detector per message.
        logging.getLogger("flufl.bounce").setLevel(logging.WARNING)
