from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _cache_table_ensure(*, using: str = "default", **kwargs: Any) -> None:
    """`migrate` alone prepares a fresh database, the database cache's table included.

    A post-migrate step rather than a migration: it follows the configured cache, so switching from Redis
    to the database cache later needs nothing more than the next `migrate` (createcachetable is idempotent).
    """
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class MailingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mailings"
    verbose_name = _("Рассылки")

    def ready(self) -> None:
        post_migrate.connect(_cache_table_ensure, sender=self, dispatch_uid="mailings.cache_table_ensure")
