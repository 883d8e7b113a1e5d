from django.apps import AppConfig


class ModerationConfig(AppConfig):
    """Managers' actions on other people's data: blocking users and disabling mailings, each audited."""

    name = "moderation"
