"""Imports in the task queue: confirming an import queues it, and the task runs it (services.import_run).

Arguments are JSON-serialisable ids; the queue is `default`. The services never import this module.
"""

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from audience.imports.services import import_run
from audience.models import Import
from core.data_versions import data_version_bump

logger = logging.getLogger(__name__)


@task(queue_name="default")
def run_import(import_id: int) -> None:
    """Read, check and apply one confirmed import."""
    import_run(import_id=import_id)


def import_confirm(*, job: Import, mapping: dict[str, Any]) -> Import:
    """Store the mapping and queue the import (once: a second confirm finds it queued already)."""
    fields = ["has_header", "email_column", "full_name_column", "comment_column", "list_column", "target_list"]
    values = {name: mapping[name] for name in fields}
    values["policy"] = mapping["policy"]
    with transaction.atomic():
        claimed = Import.objects.filter(pk=job.pk, status=Import.Status.UPLOADED).update(
            status=Import.Status.QUEUED, progress_at=timezone.now(), **values
        )
        if claimed:
            transaction.on_commit(lambda: run_import.enqueue(job.pk))
            data_version_bump(owner_id=job.owner_id)
    job.refresh_from_db()
    logger.info("import queued: import=%s claimed=%s", job.pk, bool(claimed))
    return job
