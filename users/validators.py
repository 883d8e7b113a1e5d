import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

ALLOWED_AVATAR_TYPES = {"JPEG", "PNG", "GIF", "WEBP"}


def validate_phone(value: str, region: str = "RU") -> None:
    """Accept international numbers (+7 912 345-67-89); numbers of `region` (Russia) may omit the country code."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("Введите номер телефона, например +7 912 345-67-89."), code="invalid") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Такого номера телефона не существует."), code="invalid")


def validate_avatar(file: UploadedFile) -> None:
    if file.size is not None and file.size > settings.AVATAR_MAX_BYTES:
        raise ValidationError(
            _("Файл слишком большой (%(size)s). Максимум — %(max)s."),
            code="too_big",
            params={"size": filesizeformat(file.size), "max": filesizeformat(settings.AVATAR_MAX_BYTES)},
        )
    image = getattr(file, "image", None)
    if image is not None and image.format not in ALLOWED_AVATAR_TYPES:
        raise ValidationError(_("Загрузите изображение JPEG, PNG, GIF или WebP."), code="bad_type")
