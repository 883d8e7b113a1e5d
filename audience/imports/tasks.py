"""Background task of imports (django.tasks API, queue `default`). Arguments are JSON-serialisable ids."""

import logging

from django_tasks import task

logger = logging.getLogger(__name__)


@task(queue_name="default")
def run_import(import_id: int) -> None:
    """Read, check and apply one confirmed import (audience.imports.services.import_run)."""
    from audience.imports.services import import_run

    import_run(import_id=import_id)
