"""Fixtures of the consent tests: an empty cache (rate limits) and task queue for each test."""

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from tests.support import clear_tasks


@pytest.fixture(autouse=True)
def _isolated(db: None) -> Iterator[None]:
    cache.clear()
    clear_tasks()
    yield
    cache.clear()
