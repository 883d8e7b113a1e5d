from django.apps import AppConfig


class SendersConfig(AppConfig):
    """Owners' own SMTP accounts: the mailbox, limits and From a mailing sends through."""

    name = "senders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from senders import checks  # noqa: F401  (registers the system checks)
