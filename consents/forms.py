import logging
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from consents.models import Kind, Source
from core.forms import BootstrapFormMixin

logger = logging.getLogger(__name__)


class ConsentStatementForm(BootstrapFormMixin, forms.Form):
    """What the owner states about addresses they add by hand or import: where the consents come from, which ones.

    Shown with the recipient form and the import's mapping form, under the prefix "consent".
    """

    source = forms.ChoiceField(
        label=_("Источник согласия"),
        choices=[("", _("— выберите —")), *Source.choices],
        help_text=_("Где и как адресаты дали согласие: это ваше подтверждение на случай проверки или жалобы."),
    )
    source_note = forms.CharField(
        label=_("Подробности"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Например: «анкета покупателя в магазине на Ленина, 5, текст согласия в анкете»."),
    )
    kinds = forms.MultipleChoiceField(
        label=_("Полученные согласия"),
        choices=Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Отметьте, какие согласия получены.")},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("source") == Source.OTHER and not (cleaned.get("source_note") or "").strip():
            self.add_error("source_note", _("Опишите источник согласия."))
        return cleaned


class WordingForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(choices=Kind.choices, widget=forms.HiddenInput)
    text = forms.CharField(label=_("Текст согласия"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 6}))


class PublicSubscribeForm(forms.Form):
    """The public form: no Bootstrap mixin needed for the honeypot's sake, classes are in the template."""

    full_name = forms.CharField(label=_("Имя"), max_length=255, required=False)
    email = forms.EmailField(
        label=_("Эл. почта"),
        max_length=320,
        error_messages={"invalid": _("Введите правильный адрес электронной почты, например ivan@example.com.")},
    )
    personal_data = forms.BooleanField(
        label=_("Согласие на обработку персональных данных"),
        error_messages={"required": _("Без согласия на обработку персональных данных подписаться нельзя.")},
    )
    advertising = forms.BooleanField(
        label=_("Согласие на получение рекламной рассылки"),
        error_messages={"required": _("Рассылка рекламная: без этого согласия подписаться нельзя.")},
    )
    # The versions of the texts the visitor was shown (the owner's snippet names them): the evidence points there.
    personal_data_version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    advertising_version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    # The honeypot: hidden from people (CSS class and aria-hidden), filled in by form-filling robots.
    website = forms.CharField(required=False, max_length=200)
