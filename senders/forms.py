import json
import logging
import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import BootstrapFormMixin
from senders.crypto import password_key_configured
from senders.models import SmtpAccount
from senders.presets import PRESETS
from senders.selectors import smtp_accounts_for
from senders.services import SETTINGS_FIELDS, AccountSettings
from users.models import User

logger = logging.getLogger(__name__)

# A host name or an IPv4/IPv6 address; nothing that could smuggle a command or a URL.
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:]+:[0-9a-fA-F:.]*|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$")


class SmtpAccountForm(BootstrapFormMixin, forms.ModelForm):
    """The owner's account. The password is write-only: never rendered back; left empty on edit, it stays."""

    preset = forms.ChoiceField(
        label=_("Заполнить по образцу"),
        required=False,
        help_text=_("Выберите почтовую службу: сервер, порт, защита и ограничения заполнятся сами."),
    )
    password = forms.CharField(
        label=_("Пароль приложения"),
        required=False,
        strip=False,
        max_length=512,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    # The template first (it fills the server's fields), the password right after the login it goes with.
    field_order = ["preset", "name", "host", "port", "security", "login", "password"]

    class Meta:
        model = SmtpAccount
        fields = [
            "name",
            "host",
            "port",
            "security",
            "login",
            "from_email",
            "from_name",
            "reply_to",
            "limit_per_second",
            "limit_per_hour",
            "limit_per_day",
        ]
        help_texts = {
            "name": _("Как учётная запись будет называться в списке рассылок, например «Магазин на Яндексе»."),
            "login": _("Обычно адрес ящика целиком."),
            "from_email": _(
                "Адрес, который увидят получатели. Обычно совпадает с логином: иначе сервер может отказать."
            ),
            "reply_to": _("Куда придут ответы получателей; пусто — на адрес отправителя."),
            "limit_per_second": _("0 — без ограничения. 60 писем в минуту — это 1 в секунду."),
            "limit_per_hour": _("0 — без ограничения."),
            "limit_per_day": _("0 — без ограничения. Сутки считаются по часовому поясу сервиса."),
        }
        widgets = {"limit_per_second": forms.NumberInput(attrs={"step": "0.1", "min": "0"})}

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        self.owner = owner
        super().__init__(*args, **kwargs)
        preset = self.fields["preset"]
        assert isinstance(preset, forms.ChoiceField)
        preset.choices = [("", _("— вручную —")), *((p.key, p.label) for p in PRESETS)]
        # Read by static/js/smtp_presets.js (no inline script: the page runs under a CSP).
        preset.widget.attrs["data-presets"] = json.dumps({p.key: p.values() for p in PRESETS}, ensure_ascii=False)
        password = self.fields["password"]
        if self.instance.pk and self.instance.has_password:
            password.help_text = _("Пароль сохранён и не показывается. Оставьте поле пустым, чтобы не менять его.")
        else:
            password.help_text = _(
                "Пароль приложения из настроек почтового ящика (не обычный пароль входа). Хранится зашифрованным."
            )

    def clean_host(self) -> str:
        host: str = self.cleaned_data["host"].strip()
        if not _HOST.match(host):
            raise forms.ValidationError(_("Укажите имя сервера, например smtp.yandex.ru."), code="bad_host")
        return host

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        taken = smtp_accounts_for(self.owner).filter(name=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("У вас уже есть учётная запись с таким названием."), code="duplicate")
        return name

    def clean(self) -> dict[str, Any]:
        super().clean()
        password = self.cleaned_data.get("password") or ""
        login = self.cleaned_data.get("login") or ""
        if password and not password_key_configured():
            self.add_error(
                "password",
                _("Сервис пока не может хранить пароли: администратор не задал ключ SMTP_PASSWORD_KEY."),
            )
        elif login and not password and not (self.instance.pk and self.instance.has_password):
            self.add_error("password", _("Введите пароль приложения для этого логина."))
        return self.cleaned_data

    def settings_values(self) -> AccountSettings:
        return AccountSettings(**{name: self.cleaned_data[name] for name in SETTINGS_FIELDS})
