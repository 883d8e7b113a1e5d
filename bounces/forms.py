import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bounces.mailboxes import MailboxSettings
from bounces.models import BounceMailbox
from core.forms import BootstrapFormMixin
from senders.crypto import password_key_configured

# A host name or an IPv4/IPv6 address; nothing that could smuggle a command or a URL (as senders/forms.py).
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:]+:[0-9a-fA-F:.]*|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$")
# An IMAP folder name as people type it ("INBOX", "Bounces", "INBOX/Возвраты"); no control characters or quotes.
_FOLDER = re.compile(r'^[^\x00-\x1f\x7f"\\]{1,255}$')


class BounceMailboxForm(BootstrapFormMixin, forms.ModelForm):
    """The owner's bounce mailbox. The password is write-only: never rendered back; left empty on edit, it stays."""

    password = forms.CharField(
        label=_("Пароль приложения"),
        required=False,
        strip=False,
        max_length=512,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    field_order = ["host", "port", "security", "login", "password", "folder", "is_enabled"]

    class Meta:
        model = BounceMailbox
        fields = ["host", "port", "security", "login", "folder", "is_enabled"]
        help_texts = {
            "host": _("Например, imap.yandex.ru или imap.mail.ru."),
            "login": _("Обычно адрес ящика целиком: тот, на который приходят возвраты ваших рассылок."),
            "folder": _("Папка, куда приходят отчёты о недоставке; обычно INBOX."),
            "is_enabled": _("Vestnik проверяет ящик в фоне каждые несколько минут."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        password = self.fields["password"]
        if self.instance.pk and self.instance.has_password:
            password.help_text = _("Пароль сохранён и не показывается. Оставьте поле пустым, чтобы не менять его.")
        else:
            password.help_text = _("Пароль приложения из настроек ящика (не обычный пароль от почты).")

    def clean_host(self) -> str:
        host = str(self.cleaned_data["host"]).strip()
        if not _HOST.match(host):
            raise forms.ValidationError(_("Введите имя сервера, например imap.yandex.ru."))
        return host

    def clean_folder(self) -> str:
        folder = str(self.cleaned_data["folder"]).strip()
        if not _FOLDER.match(folder):
            raise forms.ValidationError(_("Недопустимое имя папки."))
        return folder

    def clean_password(self) -> str:
        password = str(self.cleaned_data.get("password") or "")
        if password and not password_key_configured():
            raise forms.ValidationError(
                _("Пароль негде сохранить: администратор сервиса не задал ключ шифрования (SMTP_PASSWORD_KEY).")
            )
        if not password and not (self.instance.pk and self.instance.has_password):
            raise forms.ValidationError(_("Введите пароль приложения."))
        return password

    def settings_values(self) -> MailboxSettings:
        data = self.cleaned_data
        return MailboxSettings(
            host=data["host"],
            port=data["port"],
            security=data["security"],
            login=data["login"],
            folder=data["folder"],
            is_enabled=data["is_enabled"],
        )
