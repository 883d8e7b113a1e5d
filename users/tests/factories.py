"""Small builders for the account tests."""

import io
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.support import ReceivedMessage


def image_upload(
    size: tuple[int, int] = (8, 8), *, image_format: str = "PNG", name: str = "avatar.png"
) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=image_format)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{image_format.lower()}")


def link_in(message: ReceivedMessage) -> str:
    """The path of the first link to this site in a received email's text part."""
    match = re.search(r"https?://[^/\s]+(/\S+)", message.text)
    assert match, message.text
    return match.group(1)
