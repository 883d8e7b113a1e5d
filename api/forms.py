from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from api.models import ApiToken
from core.forms import BootstrapFormMixin


class ApiTokenForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name", "scope"]
        help_texts = {
            "name": _("Например, «Интернет-магазин» — чтобы потом узнать, где токен используется."),
            "scope": _("Токен «только чтение» не может ничего изменить или отправить."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].widget = forms.RadioSelect(choices=ApiToken.Scope.choices)

    def clean_name(self) -> str:
        return str(self.cleaned_data["name"]).strip()
