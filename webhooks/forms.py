from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.forms import BootstrapFormMixin
from webhooks.models import Event, WebhookEndpoint
from webhooks.outbound import host_literal_refused


class EndpointForm(BootstrapFormMixin, forms.ModelForm):
    url = forms.URLField(
        label=_("Адрес (URL)"),
        max_length=2000,
        assume_scheme="https",
        help_text=_("Адрес, на который Vestnik отправит POST с JSON: http:// или https://."),
    )
    events = forms.MultipleChoiceField(
        label=_("События"),
        choices=Event.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Выберите хотя бы одно событие.")},
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "events")
        help_texts = {"description": _("Для себя: что это за система.")}

    def __init__(self, *args: Any, owner_endpoints: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner_endpoints = owner_endpoints
        self.fields["url"].widget.attrs["placeholder"] = "https://shop.example.com/hooks/vestnik"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        limit = int(settings.WEBHOOKS_MAX_ENDPOINTS)
        # Every event fans out to each endpoint: the number an owner may have is bounded.
        if self.instance.pk is None and self.owner_endpoints >= limit:
            raise forms.ValidationError(
                _("Можно добавить не больше %(limit)s точек приёма: удалите ненужную.") % {"limit": limit}
            )
        return cleaned

    def clean_url(self) -> str:
        url = str(self.cleaned_data["url"]).strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise forms.ValidationError(_("Адрес должен начинаться с http:// или https://."))
        if parts.username or parts.password:
            raise forms.ValidationError(_("Логин и пароль в адресе не поддерживаются: проверяйте подпись запроса."))
        if parts.hostname and host_literal_refused(parts.hostname):
            raise forms.ValidationError(
                _("Адреса внутренней сети (localhost, 10.x, 127.x, 192.168.x и подобные) не разрешены.")
            )
        return url

    def clean_events(self) -> list[str]:
        chosen = set(self.cleaned_data["events"])
        # Stored in the order of the choices, whatever order the browser sent.
        return [code for code in Event.values if code in chosen]
