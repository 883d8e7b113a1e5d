"""Fixtures of the audience tests: a scratch media folder for uploads, an empty cache and task queue."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from tests.support import clear_tasks


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Any, db: None) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    clear_tasks()
    yield
    cache.clear()
