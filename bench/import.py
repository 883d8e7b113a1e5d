"""Import throughput and memory: a generated CSV imported end to end through the page's own services.

    .venv/bin/python bench/import.py [--rows 100000] [--small 10000] [--format csv|xlsx]

Generates a CSV (email, full name, comment, list; 10 lists) of which 10 % are invalid addresses or
duplicates inside the file (5 % each), then, in a fresh process per size, on its own SQLite file
(var/bench/import.sqlite3; DATABASE_URL to measure another database), runs exactly what the pages do:
`import_upload` (the upload form: checks, sniffing, storing the file), `import_confirm` (the mapping
form) and `import_run` (what the background task runs: staging in chunks, then one transaction).
Prints rows per second (wall clock; the CPU seconds of this process beside them, for a shared machine where
the database's own waits also count) and the process's peak memory (RSS) for the small and the large file, so that
"flat" can be seen; the last line is `import_rows_per_s=<n> import_peak_mb=<m>` for the large one.
"""

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
LISTS = [f"Список {i}" for i in range(10)]


def generate(path: Path, rows: int) -> None:
    rng = random.Random(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "ФИО", "Комментарий", "Список"])
        for i in range(rows):
            roll = rng.random()
            if roll < 0.05:
                email = f"broken-{i}.example.com"  # invalid
            elif roll < 0.10 and i:
                email = f"Client{rng.randrange(i)}@Example.com"  # a duplicate (case differs) of an earlier row
            else:
                email = f"client{i}@example.com"
            writer.writerow([email, f"Клиент Номер {i}", f"комментарий {i % 97}", LISTS[i % len(LISTS)]])


def to_xlsx(csv_path: Path, xlsx_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    with csv_path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle):
            sheet.append(row)
    workbook.save(xlsx_path)


def child(rows: int, file_format: str) -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'bench' / 'import.sqlite3'}")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.files.uploadedfile import UploadedFile
    from django.core.management import call_command
    from django.utils import timezone

    from audience.imports.services import import_run, import_upload
    from audience.imports.tasks import import_confirm
    from audience.models import Import
    from consents.models import ConsentRecord, Kind, Source
    from consents.services import import_consent_state
    from users.models import User

    call_command("migrate", "--no-input", verbosity=0)
    call_command("createcachetable", verbosity=0)
    with tempfile.TemporaryDirectory() as tmp:
        settings.MEDIA_ROOT = tmp
        path = Path(tmp) / "clients.csv"
        generate(path, rows)
        if file_format == "xlsx":
            to_xlsx(path, Path(tmp) / "clients.xlsx")
            path = Path(tmp) / "clients.xlsx"
        owner = User.objects.create_user(
            email=f"bench-import-{time.time_ns()}@example.com", password="bench", email_confirmed_at=timezone.now()
        )
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started, cpu_started = time.perf_counter(), time.process_time()
        with path.open("rb") as handle:
            upload = UploadedFile(file=handle, name=path.name, size=path.stat().st_size)
            job, _info = import_upload(owner=owner, upload=upload)
        # The mapping page asks where the consents come from; the import records both for every added row.
        import_consent_state(job=job, kinds=list(Kind.values), source=Source.WEBSITE, source_note="bench")
        import_confirm(
            job=job,
            mapping={
                "has_header": True,
                "email_column": 0,
                "full_name_column": 1,
                "comment_column": 2,
                "list_column": 3,
                "target_list": None,
                "policy": Import.Policy.SKIP,
            },
        )
        finished = import_run(import_id=job.pk)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert finished is not None and finished.status == Import.Status.DONE, finished and finished.error
        job = finished
        result = {
            "rows": job.rows_total,
            "created": job.created_count,
            "invalid": job.invalid_count,
            "duplicates": job.duplicate_count,
            "consents": ConsentRecord.objects.filter(owner=owner).count(),
            "seconds": elapsed,
            "cpu_seconds": cpu,
            "rows_per_s": job.rows_total / elapsed,
            "peak_mb": peak,
            "baseline_mb": baseline,
        }
        owner.delete()  # keep the bench database small for the next run
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="the smaller file, to compare memory (0: skip)")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv", help="the file imported (generated)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.rows, args.format)
        return
    (BASE_DIR / "var" / "bench").mkdir(parents=True, exist_ok=True)
    results = {}
    for rows in [n for n in (args.small, args.rows) if n]:
        done = subprocess.run(
            [sys.executable, __file__, "--child", "--rows", str(rows), "--format", args.format],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            sys.exit(f"the {rows}-row run failed:\n{done.stderr[-3000:]}")
        out = done.stdout
        results[rows] = json.loads(out.strip().splitlines()[-1])
    print(f"{'rows':>8}{'created':>9}{'invalid':>9}{'dups':>7}{'seconds':>9}{'CPU s':>7}", end="")
    print(f"{'rows/s':>9}{'peak MB':>9}{'start MB':>9}")
    for r in results.values():
        print(
            f"{r['rows']:>8}{r['created']:>9}{r['invalid']:>9}{r['duplicates']:>7}{r['seconds']:>9.2f}"
            f"{r['cpu_seconds']:>7.2f}"
            f"{r['rows_per_s']:>9.0f}{r['peak_mb']:>9.0f}{r['baseline_mb']:>9.0f}"
        )
    last = results[args.rows]
    print(f"import_rows_per_s={last['rows_per_s']:.0f} import_peak_mb={last['peak_mb']:.0f}")


if __name__ == "__main__":
    main()
