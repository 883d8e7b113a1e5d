from typing import Any, cast

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.forms import BootstrapFormMixin
from mailings.forms import SendWindowFieldsMixin
from users import services
from users.countries import countries_sorted
from users.models import User
from users.phones import DEFAULT_REGION, phone_display, phone_e164
from users.time_zones import time_zone_choices
from users.validators import validate_avatar, validate_phone


class RegistrationForm(BootstrapFormMixin, auth_forms.BaseUserCreationForm):
    first_name = forms.CharField(label=_("Имя"), max_length=150)

    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")
        labels = {
            "email": _("Электронная почта"),
            "last_name": _("Фамилия"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password1"].label = _("Пароль")
        self.fields["password1"].help_text = password_validation.password_validators_help_text_html()
        self.fields["password2"].label = _("Пароль ещё раз")
        self.fields["password2"].help_text = _("Введите тот же пароль для проверки.")

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def _get_validation_exclusions(self) -> set[str]:
        """No "already registered" error (unique field or constraint): it would tell anyone whether an address
        has an account here. services.user_register tells the address's owner by email instead."""
        return {*super()._get_validation_exclusions(), "email"}  # type: ignore[misc]  # Django's, untyped in the stubs


class LoginForm(BootstrapFormMixin, auth_forms.AuthenticationForm):
    """Email and password; tells an unconfirmed or blocked user why they cannot sign in.

    ModelBackend turns every inactive user away as "wrong password", so after a
    failed authenticate() we look the account up ourselves. authenticate() runs
    first, with the request, so django-axes counts every attempt and a locked
    out client learns nothing about the password.
    """

    username = auth_forms.UsernameField(
        label=_("Электронная почта"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Пароль"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        "invalid_login": _("Неверный адрес электронной почты или пароль."),
        "inactive": _("Учётная запись отключена."),
    }

    # Set by clean(): the address to offer «send the link again» for.
    unconfirmed_email = ""

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError as error:
            if error.code != "invalid_login" or getattr(self.request, "axes_locked_out", False):
                raise
            self._explain_inactive_user()
            raise

    def _explain_inactive_user(self) -> None:
        email = (self.cleaned_data.get("username") or "").strip()
        password = self.cleaned_data.get("password") or ""
        user = User.objects.filter(email__iexact=email).first() if email else None
        if user is None or user.is_active or not user.check_password(password):
            return
        if user.is_blocked:
            message = gettext("Учётная запись заблокирована.")
            if user.block_reason:
                message += " " + gettext("Причина: %(reason)s") % {"reason": user.block_reason}
            raise ValidationError(message, code="blocked")
        if user.email_confirmed_at is None:
            self.unconfirmed_email = user.email
            raise ValidationError(
                _(
                    "Адрес не подтверждён. Откройте ссылку из письма, которое мы отправили при регистрации, "
                    "или запросите новую."
                ),
                code="unconfirmed",
            )


class ResendConfirmationForm(BootstrapFormMixin, forms.Form):
    email = forms.EmailField(label=_("Электронная почта"), max_length=254)


class PasswordResetForm(BootstrapFormMixin, auth_forms.PasswordResetForm):
    """Queues the reset email instead of sending it; blocked accounts get none, unconfirmed ones may reset."""

    email = forms.EmailField(
        label=_("Электронная почта"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def get_users(self, email: str) -> list[User]:
        users = User.objects.filter(email__iexact=email.strip(), blocked_at__isnull=True)
        return [user for user in users if user.has_usable_password()]

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        services.account_email_enqueue(name="password_reset", to=to_email, context=context)


class SetPasswordForm(BootstrapFormMixin, auth_forms.SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = _("Новый пароль")
        self.fields["new_password2"].label = _("Новый пароль ещё раз")

    def save(self, commit: bool = True) -> User:
        return services.user_password_reset_complete(user=self.user, password=self.cleaned_data["new_password1"])


class PasswordChangeForm(BootstrapFormMixin, auth_forms.PasswordChangeForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = _("Текущий пароль")
        self.fields["new_password1"].label = _("Новый пароль")
        self.fields["new_password2"].label = _("Новый пароль ещё раз")


class ProfileForm(BootstrapFormMixin, SendWindowFieldsMixin, forms.ModelForm):
    # Not named "avatar": the model field would then be re-validated (and its file read) on every save.
    new_avatar = forms.ImageField(
        label=_("Аватар"),
        required=False,
        validators=[validate_avatar],
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}),
        help_text=_("JPEG, PNG, GIF или WebP."),
    )
    remove_avatar = forms.BooleanField(label=_("Удалить аватар"), required=False)
    country = forms.ChoiceField(label=_("Страна"), required=False)
    time_zone = forms.ChoiceField(
        label=_("Часовой пояс"),
        required=False,
        help_text=_(
            "По нему идёт расписание ваших рассылок и окно отправки, и в нём показаны даты на страницах сервиса."
        ),
    )

    class Meta:
        model = User
        fields = (
            "first_name",
            "last_name",
            "phone",
            "country",
            "sender_name",
            "reply_to",
            "time_zone",
            "send_window_start",
            "send_window_end",
            "send_window_days",
            "language",
            "finish_report",
        )
        labels = {
            "first_name": _("Имя"),
            "last_name": _("Фамилия"),
            "phone": _("Телефон"),
            "country": _("Страна"),
            "sender_name": _("Имя отправителя в рассылках"),
            "reply_to": _("Адрес для ответов (Reply-To)"),
            "language": _("Язык писем"),
            "finish_report": _("Присылать отчёт о рассылке"),
        }
        help_texts = {
            "phone": _("Например, +7 912 345-67-89."),
            "sender_name": _(
                "Получатели увидят его в поле «От». Адрес отправителя остаётся адресом сервиса, "
                "чтобы письма проходили проверки SPF и DKIM. Пусто: имя сервиса."
            ),
            "reply_to": _("Ответы получателей придут сюда. Пусто: на адрес отправителя."),
            "language": _("На этом языке сервис пишет вам сам: отчёты о рассылках, уведомления."),
            "finish_report": _(
                "После каждой попытки рассылки — письмо с итогами: доставлено, не доставлено, частые причины."
            ),
        }

    def clean_sender_name(self) -> str:
        # A header value: control characters would be replaced at send time anyway; refuse them here.
        name = str(self.cleaned_data["sender_name"])
        if any(ord(c) < 32 or c == '"' for c in name):
            raise forms.ValidationError(_("Имя отправителя не может содержать кавычки и управляющие символы."))
        return " ".join(name.split())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Sign-up asks for a first name, and pages call people by it.
        self.fields["first_name"].required = True
        # Not sent (an older form, a script): the language stays as it is.
        self.fields["language"].required = False
        if not self.instance.avatar:
            del self.fields["remove_avatar"]
        country = cast(forms.ChoiceField, self.fields["country"])
        country.choices = [("", "—"), *countries_sorted()]
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = time_zone_choices()
        # The profile's window is the default of new mailings, not a rule of its own.
        self.fields["send_window_start"].label = _("Окно отправки новых рассылок: с")
        self.fields["send_window_end"].label = _("Окно отправки новых рассылок: до")
        self.fields["send_window_days"].label = _("Дни отправки новых рассылок")
        if self.instance.phone and not self.is_bound:
            self.initial["phone"] = phone_display(self.instance.phone, country=self.instance.country.code)

    def clean_time_zone(self) -> str:
        # A client that predates time zones posts none: the owner keeps the zone they have.
        if "time_zone" not in self.data:
            return str(self.instance.time_zone)
        return str(self.cleaned_data["time_zone"])

    def clean_phone(self) -> str:
        """Stored as E.164 (+79123456789), whatever spacing or national prefix was typed."""
        phone = self.cleaned_data["phone"]
        if not phone:
            return ""
        country = (self.data.get("country") or DEFAULT_REGION).upper()
        validate_phone(phone, country)
        return phone_e164(phone, country=country)


class AccountDeleteForm(BootstrapFormMixin, forms.Form):
    password = forms.CharField(
        label=_("Пароль"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError(_("Неверный пароль."), code="wrong_password")
        return password


class ModerationReasonForm(BootstrapFormMixin, forms.Form):
    """The reason a manager gives for blocking a user or disabling a mailing (optional when undoing it)."""

    reason = forms.CharField(
        label=_("Причина"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Видна владельцу и записывается в журнал действий менеджеров."),
    )

    def __init__(self, *args: Any, required: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required
