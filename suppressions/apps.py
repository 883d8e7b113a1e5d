from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SuppressionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "suppressions"
    verbose_name = _("Отписки")

    def ready(self) -> None:
        from django.core import checks

        from suppressions.checks import site_url_check

        checks.register(site_url_check, "email", deploy=True)
