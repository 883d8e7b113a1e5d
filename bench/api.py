"""The REST API against the ORM: bulk upsert of recipients in batches, and reading them back by the cursor.

    .venv/bin/python bench/api.py [--rows 100000] [--batch 1000]

In a fresh SQLite file (var/bench/api.sqlite3; DATABASE_URL to measure another database), with the real settings
and middleware, through Django's test client (the whole request: authentication, rate-limit counter, JSON parsing,
the form fields' validation, the response schema and rendering):
- upsert: `POST /api/v1/recipients/upsert` with `--batch` rows at a time, all new addresses, then the same rows
  again with changed names (updates); the ORM does the same work per batch directly: read the owner's existing
  addresses, `bulk_create` the new, `bulk_update` the changed.
- list: every recipient by `GET /api/v1/recipients?limit=<batch>&cursor=...`; the ORM walks the same keyset
  (`pk > last ORDER BY pk LIMIT batch`) loading model instances.
Times are CPU seconds of this process (SQLite runs inside it, so they include the database's work), the API and the
ORM taking turns batch by batch: wall clock on a shared machine measures the neighbours. Each ratio is ORM
seconds / API seconds (1.0: the API costs nothing over the ORM; target ≥ 0.5). The last line is
`api_upsert_vs_orm=<r> api_list_vs_orm=<r>`.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent


def setup() -> None:
    sys.path.insert(0, str(BASE_DIR))
    (BASE_DIR / "var" / "bench").mkdir(parents=True, exist_ok=True)
    database = BASE_DIR / "var" / "bench" / "api.sqlite3"
    if "DATABASE_URL" not in os.environ:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["API_RATE_LIMIT"] = "0"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)
    call_command("createcachetable", verbosity=0)


def rows_for(start: int, count: int, version: int) -> list[dict[str, str]]:
    return [
        {"email": f"client{i}@example.com", "full_name": f"Клиент {i} v{version}", "comment": f"заказ {i % 97}"}
        for i in range(start, start + count)
    ]


def api_upsert(client: Any, token: str, total: int, batch: int, version: int, first: int = 0) -> float:
    started = time.process_time()
    for start in range(first, first + total, batch):
        response = client.post(
            "/api/v1/recipients/upsert",
            data=json.dumps({"recipients": rows_for(start, batch, version)}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.content[:300]
        assert response.json()["invalid"] == 0
    return time.process_time() - started


def orm_upsert(owner: Any, total: int, batch: int, version: int, first: int = 0) -> float:
    from django.db import transaction
    from django.db.models.functions import Lower
    from django.utils import timezone

    from mailings.models import Recipient

    started = time.process_time()
    for start in range(first, first + total, batch):
        rows = rows_for(start, batch, version)
        with transaction.atomic():
            existing = {
                r.key: r
                for r in Recipient.objects.filter(owner=owner)
                .annotate(key=Lower("email"))
                .filter(key__in=[row["email"].lower() for row in rows])
            }
            new, changed, now = [], [], timezone.now()
            for row in rows:
                found = existing.get(row["email"].lower())
                if found is None:
                    new.append(Recipient(owner=owner, created_at=now, updated_at=now, **row))
                elif (found.full_name, found.comment) != (row["full_name"], row["comment"]):
                    found.full_name, found.comment, found.updated_at = row["full_name"], row["comment"], now
                    changed.append(found)
            Recipient.objects.bulk_create(new, batch_size=1000)
            Recipient.objects.bulk_update(changed, ["email", "full_name", "comment", "updated_at"], batch_size=500)
    return time.process_time() - started


def api_list(client: Any, token: str, batch: int, expected: int) -> float:
    started, cursor, seen = time.process_time(), None, 0
    while True:
        url = f"/api/v1/recipients?limit={batch}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers={"Authorization": f"Bearer {token}"}).json()
        seen += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected, seen
    return time.process_time() - started


def orm_list(owner: Any, batch: int, expected: int) -> float:
    from mailings.models import Recipient

    started, last, seen = time.process_time(), 0, 0
    while True:
        page = list(Recipient.objects.filter(owner=owner, pk__gt=last).order_by("pk")[:batch])
        if not page:
            break
        seen += len(page)
        last = page[-1].pk
    assert seen == expected, seen
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    setup()
    from django.test import Client
    from django.utils import timezone

    from api.models import ApiToken
    from api.services import api_token_create
    from users.models import User

    def user(name: str) -> User:
        return User.objects.create_user(
            email=f"{name}@example.com", password="bench", email_confirmed_at=timezone.now()
        )

    api_owner, orm_owner = user("bench-api"), user("bench-orm")
    token = api_token_create(owner=api_owner, name="bench", scope=ApiToken.Scope.WRITE)[1]
    client = Client()
    # Warm-up: imports, URL resolution and the first queries are not what is measured.
    api_upsert(client, token, args.batch, args.batch, 0)
    orm_upsert(orm_owner, args.batch, args.batch, 0)
    figures = dict.fromkeys(["api_create_s", "orm_create_s", "api_update_s", "orm_update_s"], 0.0)
    # Batch by batch, the API and the ORM in turn, so that both meet the same load on a shared machine.
    for version, kind in ((1, "create"), (2, "update")):
        for start in range(0, args.rows, args.batch):
            figures[f"api_{kind}_s"] += api_upsert(client, token, args.batch, args.batch, version, first=start)
            figures[f"orm_{kind}_s"] += orm_upsert(orm_owner, args.batch, args.batch, version, first=start)
    figures["api_list_s"] = min(api_list(client, token, args.batch, args.rows) for _ in range(2))
    figures["orm_list_s"] = min(orm_list(orm_owner, args.batch, args.rows) for _ in range(2))
    api_upsert_s = figures["api_create_s"] + figures["api_update_s"]
    orm_upsert_s = figures["orm_create_s"] + figures["orm_update_s"]
    for name, value in figures.items():
        print(f"{name}={value:.2f}")
    rows_per_s = 2 * args.rows / api_upsert_s
    print(f"api_upsert_rows_per_cpu_s={rows_per_s:.0f} api_list_rows_per_cpu_s={args.rows / figures['api_list_s']:.0f}")
    list_ratio = figures["orm_list_s"] / figures["api_list_s"]
    print(f"api_upsert_vs_orm={orm_upsert_s / api_upsert_s:.2f} api_list_vs_orm={list_ratio:.2f}")


if __name__ == "__main__":
    main()
