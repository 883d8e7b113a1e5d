from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SuppressionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "suppressions"
    verbose_name = _("Отписки")
