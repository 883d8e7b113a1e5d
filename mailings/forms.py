import logging
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from core.forms import BootstrapFormMixin
from mailings.content.placeholders import PlaceholderError, parse
from mailings.content.render import render_body
from mailings.delivery.windows import ALL_DAYS, WEEKDAY_CHOICES
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


class TimeInput(forms.TimeInput):
    """`<input type="time">` (hours and minutes)."""

    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%H:%M")


class SendWindowFieldsMixin(forms.Form):
    """The send window's fields (mailings/delivery/windows.py) on a model form of Mailing or User.

    A Form, so that the form metaclass collects its declared fields into the model form it is mixed into.

    Both hours empty: any hour; the end not after the start: the window crosses midnight (22:00–06:00).
    The weekdays are those on which the window opens. The model keeps them as a string of ISO digits.
    """

    send_window_start = forms.TimeField(label=_("Отправлять с"), required=False, widget=TimeInput())
    send_window_end = forms.TimeField(
        label=_("Отправлять до"),
        required=False,
        widget=TimeInput(),
        help_text=_(
            "По часовому поясу владельца. Оба поля пустые: в любое время суток. Конец раньше начала: окно "
            "переходит через полночь (например, 22:00–06:00)."
        ),
    )
    send_window_days = forms.MultipleChoiceField(
        label=_("Дни отправки"),
        required=False,
        choices=WEEKDAY_CHOICES,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "send-window-days"}),
        help_text=_("Дни, в которые окно открывается."),
    )
    # Unticked checkboxes are not posted: this mark says the form had the window's fields, so that "no weekday"
    # is an error, while a client that predates windows (posting without them) keeps the window as it was.
    send_window_shown = forms.CharField(widget=forms.HiddenInput, required=False, initial="1")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The model's value is a string of digits; the checkboxes want a list of them.
        days = self.initial.get("send_window_days")
        if isinstance(days, str):
            self.initial["send_window_days"] = list(days)

    def _window_posted(self) -> bool:
        return "send_window_shown" in self.data

    def clean_send_window_days(self) -> str:
        if not self._window_posted():
            return "".join(self.initial.get("send_window_days") or ALL_DAYS)
        days = self.cleaned_data.get("send_window_days") or []
        if not days:
            raise forms.ValidationError(_("Выберите хотя бы один день недели для отправки."), code="no_weekday")
        return "".join(sorted(set(days)))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned.pop("send_window_shown", None)
        if not self._window_posted():
            cleaned["send_window_start"] = self.initial.get("send_window_start")
            cleaned["send_window_end"] = self.initial.get("send_window_end")
            return cleaned
        start, end = cleaned.get("send_window_start"), cleaned.get("send_window_end")
        if (start is None) != (end is None) and not self.has_error("send_window_start"):
            if not self.has_error("send_window_end"):
                self.add_error(
                    "send_window_end" if end is None else "send_window_start",
                    forms.ValidationError(
                        _("Укажите и начало, и конец окна отправки или оставьте оба поля пустыми."),
                        code="window_half",
                    ),
                )
        elif start is not None and start == end:
            self.add_error(
                "send_window_end",
                forms.ValidationError(
                    _(
                        "Начало и конец окна отправки совпадают: окно было бы пустым. Чтобы отправлять в любое время, "
                        "оставьте оба поля пустыми."
                    ),
                    code="window_empty",
                ),
            )
        return cleaned


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
    """A date-time of a schedule: years a browser lets you type (0001) overflow UTC conversions; refuse them.

    With `tz` (the mailing owner's zone) the value is read and shown on that clock instead of the page's.
    """

    first_year, last_year = 2000, 2999
    tz: ZoneInfo | None = None

    def to_python(self, value: Any) -> Any:
        if self.tz is None:
            return super().to_python(value)
        with timezone.override(self.tz):
            return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        if self.tz is None:
            return super().prepare_value(value)
        with timezone.override(self.tz):
            return super().prepare_value(value)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None and not (self.first_year <= value.year <= self.last_year):
            raise forms.ValidationError(
                _("Укажите год от %(first)s до %(last)s."),
                code="year_out_of_range",
                params={"first": self.first_year, "last": self.last_year},
            )


class MailingForm(BootstrapFormMixin, SendWindowFieldsMixin, _OwnerScoped, forms.ModelForm):
    start_at = ScheduleDateTimeField(label=_("Начало"), widget=DateTimeLocalInput())
    end_at = ScheduleDateTimeField(label=_("Окончание"), widget=DateTimeLocalInput())

    class Meta:
        model = Mailing
        # Who gets it is chosen on audience.forms.AudienceForm, rendered in the same <form>.
        fields = [
            "message",
            "smtp_account",
            "start_at",
            "end_at",
            "periodicity",
            "send_window_start",
            "send_window_end",
            "send_window_days",
        ]

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        self.owner = owner
        instance = kwargs.get("instance")
        if instance is None:
            # A new mailing starts with the owner's default send window (their profile).
            kwargs["initial"] = {
                "send_window_start": owner.send_window_start,
                "send_window_end": owner.send_window_end,
                "send_window_days": owner.send_window_days,
                **(kwargs.get("initial") or {}),
            }
        super().__init__(*args, **kwargs)
        # Date-times are typed and shown on the owner's clock, whoever's zone the page is in.
        for name in ("start_at", "end_at"):
            cast(ScheduleDateTimeField, self.fields[name]).tz = owner.zone

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
        self.fields["start_at"].help_text = _("Часовой пояс: %(tz)s.") % {"tz": self.owner.zone_name}

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


class LongSelect(forms.Select):
    """A single-choice <select> whose options are joined in Python, not rendered through a template each.

    Django's Select renders every option through the form renderer (an option dict and a template render each);
    the attempts filter lists all of an owner's mailings, and at 1,001 of them that was most of the page's time
    (bench/ledger_pages.py). The markup is Select's: the widget's attributes, then the options, the chosen one
    marked `selected`.
    """

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        chosen = {str(v) for v in self.format_value(value)}
        options = format_html_join(
            "\n",
            '<option value="{}"{}>{}</option>',
            ((str(v), " selected" if str(v) in chosen else "", label) for v, label in self.choices),
        )
        return format_html("<select{}>\n{}\n</select>", flatatt(final_attrs), options)


class AttemptFilterForm(BootstrapFormMixin, _OwnerScoped, forms.Form):
    mailing = forms.ModelChoiceField(
        label=_("Рассылка"),
        queryset=Mailing.objects.none(),
        required=False,
        empty_label=_("Все рассылки"),
        widget=LongSelect,
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
