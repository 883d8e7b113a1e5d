"""Small real images for upload tests."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def image_upload(
    name: str = "preview.png", image_format: str = "PNG", size: tuple[int, int] = (8, 8)
) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, format=image_format)
    content_type = f"image/{image_format.lower()}"
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)
