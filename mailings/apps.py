from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mailings"
    verbose_name = _("Рассылки")

    def ready(self) -> None:
        from django.core import checks

        from mailings.checks import dkim_check, mail_domains_check

        checks.register(mail_domains_check, "email", deploy=True)
        checks.register(dkim_check, "email")
