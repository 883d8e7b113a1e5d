import logging
from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import BootstrapFormMixin
from mailings.content.placeholders import PlaceholderError, parse
from mailings.content.render import render_body
from mailings.models import Attempt, Mailing, Message, Recipient
from mailings.selectors import can_view_all_mailings, mailing_choices_for, messages_for, recipients_for
from senders.selectors import smtp_accounts_for
from users.models import User

logger = logging.getLogger(__name__)

DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
DUPLICATE_EMAIL = _("У вас уже есть получатель с таким email.")


class DateTimeLocalInput(forms.DateTimeInput):
    """`<input type="datetime-local">`; the value is read and shown in the current time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=DATETIME_LOCAL_FORMAT)


class _OwnerScoped:
    """Narrows the choice querysets to the owner's objects as part of building the form.

    Every form with owner-scoped choices does it in one place (`scope_to_owner`),
    so no caller can forget it. Set `self.owner` before calling super.
    """

    owner: User

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scope_to_owner()

    def scope_to_owner(self) -> None:
        pass


class RecipientForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Recipient
        fields = ["email", "full_name", "comment"]
        widgets = {"comment": forms.Textarea(attrs={"rows": 3})}
        error_messages = {
            "email": {"invalid": _("Введите правильный адрес электронной почты, например ivan@example.com.")},
        }

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        self.owner = owner  # before super(): scope_to_owner() runs inside __init__
        super().__init__(*args, **kwargs)

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].strip()
        taken = recipients_for(self.owner).filter(email__iexact=email)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(DUPLICATE_EMAIL, code="duplicate")
        return email


def _placeholder_error(exc: PlaceholderError) -> forms.ValidationError:
    return forms.ValidationError(
        _("Строка %(line)s, символ %(column)s: %(problem)s"),
        code="placeholder",
        params={"line": exc.line, "column": exc.column, "problem": exc.message},
    )


PLACEHOLDER_HELP = _(
    "Подстановки: {{ имя }}, {{ email }}, {{ комментарий }} получателя и {{ ссылка_отписки }} "
    "(личная ссылка отписки; если её нет в тексте, она добавляется в конец письма); "
    "то же по-английски: {{ name }}, {{ comment }}, "
    '{{ unsubscribe_url }}. Запасное значение, если поле пустое: {{ имя|default:"клиент" }}.'
)


class MessageForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Message
        fields = ["subject", "format", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 12})}
        help_texts = {
            "subject": PLACEHOLDER_HELP,
            "format": _(
                "Markdown: **жирный**, *курсив*, # заголовок, - список, [текст](https://адрес), "
                "![описание](https://адрес/картинки.png). Письмо уйдёт в HTML и простым текстом."
            ),
            "body": PLACEHOLDER_HELP,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Clients that predate formatting post no format: the message keeps its own (plain for new ones).
        self.fields["format"].required = False

    def clean_format(self) -> str:
        return str(self.cleaned_data.get("format") or self.instance.format or Message.Format.PLAIN)

    def clean_subject(self) -> str:
        subject = str(self.cleaned_data["subject"])
        try:
            parse(subject)
        except PlaceholderError as exc:
            raise _placeholder_error(exc) from exc
        return subject

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        body, body_format = cleaned.get("body"), cleaned.get("format")
        if body is not None and body_format:
            try:
                render_body(body=body, format=body_format, strict=True)
            except PlaceholderError as exc:
                self.add_error("body", _placeholder_error(exc))
        return cleaned


class ScheduleDateTimeField(forms.DateTimeField):
    """A date-time of a schedule: years a browser lets you type (0001) overflow UTC conversions; refuse them."""

    first_year, last_year = 2000, 2999

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None and not (self.first_year <= value.year <= self.last_year):
            raise forms.ValidationError(
                _("Укажите год от %(first)s до %(last)s."),
                code="year_out_of_range",
                params={"first": self.first_year, "last": self.last_year},
            )


class MailingForm(BootstrapFormMixin, _OwnerScoped, forms.ModelForm):
    start_at = ScheduleDateTimeField(label=_("Начало"), widget=DateTimeLocalInput())
    end_at = ScheduleDateTimeField(label=_("Окончание"), widget=DateTimeLocalInput())

    class Meta:
        model = Mailing
        # Who gets it is chosen on audience.forms.AudienceForm, rendered in the same <form>.
        fields = ["message", "smtp_account", "start_at", "end_at", "periodicity"]

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        self.owner = owner
        super().__init__(*args, **kwargs)

    def scope_to_owner(self) -> None:
        # `fields` is typed as plain Field; the model's ForeignKey made this one.
        message = cast(forms.ModelChoiceField, self.fields["message"])
        # Only the owner's objects can be chosen; a forged id fails as "not one of the choices".
        message.queryset = messages_for(self.owner).order_by("-created_at", "-pk")
        message.empty_label = _("— выберите сообщение —")
        account = cast(forms.ModelChoiceField, self.fields["smtp_account"])
        account.queryset = smtp_accounts_for(self.owner).order_by("name", "pk")
        account.label = _("Отправлять через")
        if settings.ALLOW_SERVICE_ACCOUNT_FOR_MAILINGS:
            account.required = False
            account.empty_label = _("служебную учётную запись сервиса")
            account.help_text = _("Свою почту для отправки добавьте в разделе «Отправители» (меню с вашим именем).")
        else:
            account.required = True
            account.empty_label = _("— выберите учётную запись —")
            account.help_text = _(
                "Рассылки отправляются только через ваши учётные записи (раздел «Отправители» в меню с вашим именем)."
            )
        self.fields["start_at"].help_text = _("Часовой пояс: %(tz)s.") % {"tz": timezone.get_current_timezone_name()}

    def clean(self) -> dict[str, Any]:
        super().clean()
        start_at, end_at = self.cleaned_data.get("start_at"), self.cleaned_data.get("end_at")
        if start_at and end_at and end_at <= start_at:
            self.add_error("end_at", _("Окончание рассылки должно быть позже её начала."))
        elif end_at and end_at <= timezone.now() and self.instance.pk is None:
            # A new mailing that could never send: refuse it rather than accept it and promise a run. Moving an
            # existing mailing's end into the past is how its owner finishes it early, and stays allowed.
            self.add_error(
                "end_at",
                _("Окончание рассылки уже прошло: она не отправится ни разу. Укажите окончание в будущем."),
            )
        return self.cleaned_data


class AttemptFilterForm(BootstrapFormMixin, _OwnerScoped, forms.Form):
    mailing = forms.ModelChoiceField(
        label=_("Рассылка"), queryset=Mailing.objects.none(), required=False, empty_label=_("Все рассылки")
    )
    status = forms.ChoiceField(label=_("Статус"), required=False)

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        self.owner = owner
        super().__init__(*args, **kwargs)

    def scope_to_owner(self) -> None:
        # `fields` holds copies of the fields declared above, typed as plain Field.
        mailing = cast(forms.ModelChoiceField, self.fields["mailing"])
        mailing.queryset = mailing_choices_for(self.owner)
        if can_view_all_mailings(self.owner):
            # Every user's mailings would make a select list of the whole service: a manager types the number.
            mailing.widget = forms.NumberInput(attrs={"min": 1, "placeholder": _("номер")})
            mailing.label = _("Рассылка (номер)")
        status = cast(forms.ChoiceField, self.fields["status"])
        status.choices = [("", _("Все статусы")), *Attempt.Status.choices]
