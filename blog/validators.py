from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db.models.fields.files import FieldFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

ALLOWED_PREVIEW_TYPES = {"JPEG", "PNG", "GIF", "WEBP"}
DEFAULT_PREVIEW_MAX_BYTES = 5 * 1024 * 1024


def preview_max_bytes() -> int:
    return int(getattr(settings, "BLOG_PREVIEW_MAX_BYTES", DEFAULT_PREVIEW_MAX_BYTES))


def validate_preview(file: File) -> None:
    """Accept JPEG, PNG, GIF and WebP images up to BLOG_PREVIEW_MAX_BYTES (5 MB by default).

    The format comes from Pillow (forms.ImageField puts the opened image on the
    upload), not from the file name or the browser's content type.
    """
    if isinstance(file, FieldFile):
        # A stored file was checked when it was uploaded; asking the storage again would fail an
        # unrelated edit if the file has gone missing.
        if file._committed:  # type: ignore[attr-defined]  # FieldFile's own flag, missing from django-stubs
            return
        file = file.file
    limit = preview_max_bytes()
    if file.size is not None and file.size > limit:
        raise ValidationError(
            _("Файл слишком большой (%(size)s). Максимум — %(max)s."),
            code="too_big",
            params={"size": filesizeformat(file.size), "max": filesizeformat(limit)},
        )
    image = getattr(file, "image", None)
    if image is not None and image.format not in ALLOWED_PREVIEW_TYPES:
        raise ValidationError(_("Загрузите изображение JPEG, PNG, GIF или WebP."), code="bad_type")
