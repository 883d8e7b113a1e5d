"""Email addresses as people have them: internationalised domains (почта.рф) and non-ASCII local parts.

Django's validator accepts an internationalised domain but refuses a non-ASCII local part (пётр@…), which
RFC 6531 (SMTPUTF8) allows; the email-validator library checks both by the RFCs. Delivery sends the domain
as punycode and a non-ASCII local part only where the server offers SMTPUTF8 (mailings/delivery/smtp.py).
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _
from email_validator import EmailNotValidError, validate_email


@deconstructible
class InternationalEmailValidator:
    message = _("Введите правильный адрес электронной почты, например ivan@example.com.")
    code = "invalid"

    def __call__(self, value: Any) -> None:
        try:
            validate_email(
                str(value),
                check_deliverability=False,
                allow_smtputf8=True,
                allow_quoted_local=False,
                allow_domain_literal=False,
            )
        except EmailNotValidError as exc:
            raise ValidationError(self.message, code=self.code) from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InternationalEmailValidator)

    def __hash__(self) -> int:
        return hash(type(self))


validate_international_email = InternationalEmailValidator()


class InternationalEmailFormField(forms.EmailField):
    default_validators = [validate_international_email]


class InternationalEmailField(models.EmailField):
    """An EmailField that also takes non-ASCII local parts (RFC 6531)."""

    default_validators = [validate_international_email]

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"form_class": InternationalEmailFormField, **kwargs})
