from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import BootstrapFormMixin


class UnsubscribeForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Причина (необязательно)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class SuppressionRemoveForm(BootstrapFormMixin, forms.Form):
    statement = forms.CharField(
        label=_("Как получено новое согласие"),
        help_text=_("Например: «Подписался снова через форму на сайте 12.03.2026» или «Письменное заявление от …»."),
        min_length=10,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=_("Подтверждаю: получатель снова дал согласие на рассылку, и я могу это доказать."),
        required=True,
    )
