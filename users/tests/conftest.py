"""Fixtures of the account tests: an empty cache and task queue, a scratch media folder.

The cache table and the real SMTP server come from the root conftest.py.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from tests.support import clear_tasks


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Any, db: None) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    # Redis (cache and RQ queues) outlives a test's transaction; the database backend rolls back anyway.
    cache.clear()
    clear_tasks()
    yield
    cache.clear()
