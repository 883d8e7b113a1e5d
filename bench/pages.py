"""Page speed with the server cache on and off, against a trivial view behind the same middleware.

    .venv/bin/python bench/pages.py [--requests 300] [--repeat 3] [--reseed]

Seeds (once; reused afterwards) a large account on its own SQLite file, var/bench/pages.sqlite3:
10,000 recipients, 1,000 mailings (50 recipients each), 2,000 attempts and 100,000 deliveries.
Then, in this process, through Django's test Client (the full middleware stack and URLconf, no
network: the figures are the server's own cost), signed in as that account's owner, measures
requests per second and the p95 latency of the home, mailings list, attempts and statistics
pages with the cache on (the configured shared cache: the database cache, or Redis when REDIS_URL
is set) and off (DummyCache: every request computes from the database), of the statistics page
answered 304 by the browser's validator, and of a trivial view (bench/urls.py) as the reference.
The pages take turns request by request (a burst of load from elsewhere hits them all alike); with
--repeat the cached and trivial measurements run for several rounds and the best of each is kept.

A second account (seeded once too) has 100,000 recipients in 10 lists of 10,000 and a mailing to two of
the lists plus 10,000 recipients chosen one by one: its mailing form, new and edit, is measured the same
way (the form pages are not page-cached; the edit form's audience count is, per data version).

Prints a table and, as its last line, `cached/trivial=<ratio>`: requests per second of the slowest
cached page (the mailing forms included) divided by those of the trivial view.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

import django  # noqa: E402

django.setup()

from datetime import timedelta  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from mailings.models import Attempt, Delivery, Mailing, Message, Recipient  # noqa: E402
from users.models import User  # noqa: E402

OWNER_EMAIL = "bench-owner@example.com"
RECIPIENTS, MAILINGS, PER_MAILING, ATTEMPTS_PER_MAILING = 10_000, 1_000, 50, 2
PAGES = [("home", "/"), ("mailings", "/mailings/"), ("attempts", "/attempts/"), ("statistics", "/stats/")]
TRIVIAL = "/bench/trivial/"
AUDIENCE_EMAIL = "bench-audience@example.com"
AUDIENCE_RECIPIENTS, AUDIENCE_LISTS, AUDIENCE_CHOSEN = 100_000, 10, 10_000
NO_CACHE = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


def seed(*, reseed: bool) -> User:
    call_command("migrate", "--no-input", verbosity=0)
    owner = User.objects.filter(email=OWNER_EMAIL).first()
    if owner is not None and not reseed and Mailing.objects.filter(owner=owner).count() == MAILINGS:
        return owner
    started = time.monotonic()
    with transaction.atomic():
        User.objects.filter(email=OWNER_EMAIL).delete()
        owner = User.objects.create_user(
            email=OWNER_EMAIL, password="bench", first_name="Нагрузка", email_confirmed_at=timezone.now()
        )
        Recipient.objects.bulk_create(
            (Recipient(owner=owner, email=f"r{i}@example.com", full_name=f"Получатель {i}") for i in range(RECIPIENTS)),
            batch_size=2000,
        )
        recipient_ids = list(Recipient.objects.filter(owner=owner).order_by("pk").values_list("pk", flat=True))
        messages = Message.objects.bulk_create(
            (Message(owner=owner, subject=f"Новости №{i}", body="Здравствуйте!") for i in range(MAILINGS)),
            batch_size=2000,
        )
        now = timezone.now()
        mailings = Mailing.objects.bulk_create(
            (
                Mailing(
                    owner=owner,
                    message=message,
                    start_at=now - timedelta(days=10),
                    end_at=now + timedelta(days=300),
                    periodicity=Mailing.Periodicity.WEEKLY,
                    status=Mailing.Status.RUNNING,
                )
                for message in messages
            ),
            batch_size=2000,
        )
        through = Mailing.recipients.through
        links = []
        for i, mailing in enumerate(mailings):
            start = (i * PER_MAILING) % RECIPIENTS
            chosen = recipient_ids[start : start + PER_MAILING]
            links += [through(mailing_id=mailing.pk, recipient_id=rid) for rid in chosen]
        through.objects.bulk_create(links, batch_size=5000)
        attempts = Attempt.objects.bulk_create(
            (
                Attempt(
                    mailing=mailing,
                    trigger=Attempt.Trigger.SCHEDULE if k else Attempt.Trigger.MANUAL,
                    scheduled_for=now - timedelta(days=7 * k) if k else None,
                    started_at=now - timedelta(days=7 * k, minutes=i),
                    finished_at=now - timedelta(days=7 * k, minutes=i) + timedelta(seconds=30),
                    status=Attempt.Status.SUCCESS if (i + k) % 5 else Attempt.Status.FAILURE,
                    total_count=PER_MAILING,
                    sent_count=PER_MAILING - 2,
                    failed_count=2,
                    server_response="250 2.0.0 Ok ×48; 550 5.1.1 User unknown ×2",
                )
                for i, mailing in enumerate(mailings)
                for k in range(ATTEMPTS_PER_MAILING)
            ),
            batch_size=2000,
        )
        by_mailing: dict[int, list[int]] = {}
        for link in links:
            by_mailing.setdefault(link.mailing_id, []).append(link.recipient_id)
        deliveries = (
            Delivery(
                attempt=attempt,
                recipient_id=rid,
                email=f"r{rid}@example.com",
                state=Delivery.State.FAILED if j < 2 else Delivery.State.SENT,
                tries=1,
                smtp_code=550 if j < 2 else 250,
                finished_at=attempt.finished_at,
            )
            for attempt in attempts
            for j, rid in enumerate(by_mailing[attempt.mailing_id])
        )
        Delivery.objects.bulk_create(deliveries, batch_size=5000)
    print(f"seeded in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return owner


def seed_audience(*, reseed: bool) -> tuple[User, int]:
    """The owner with 100,000 recipients in 10 lists, and their mailing (two lists + 10,000 chosen one by one)."""
    from audience.models import List

    owner = User.objects.filter(email=AUDIENCE_EMAIL).first()
    if owner is not None and not reseed and Recipient.objects.filter(owner=owner).count() == AUDIENCE_RECIPIENTS:
        return owner, Mailing.objects.get(owner=owner).pk
    started = time.monotonic()
    with transaction.atomic():
        User.objects.filter(email=AUDIENCE_EMAIL).delete()
        owner = User.objects.create_user(
            email=AUDIENCE_EMAIL, password="bench", first_name="Аудитория", email_confirmed_at=timezone.now()
        )
        Recipient.objects.bulk_create(
            (
                Recipient(owner=owner, email=f"client{i}@example.com", full_name=f"Клиент {i}")
                for i in range(AUDIENCE_RECIPIENTS)
            ),
            batch_size=5000,
        )
        ids = list(Recipient.objects.filter(owner=owner).order_by("pk").values_list("pk", flat=True))
        lists = List.objects.bulk_create(List(owner=owner, name=f"Список {n}") for n in range(AUDIENCE_LISTS))
        size = AUDIENCE_RECIPIENTS // AUDIENCE_LISTS
        List.members.through.objects.bulk_create(
            (
                List.members.through(list_id=item.pk, recipient_id=rid)
                for n, item in enumerate(lists)
                for rid in ids[n * size : (n + 1) * size]
            ),
            batch_size=5000,
        )
        message = Message.objects.create(owner=owner, subject="Весенние новости", body="Здравствуйте!")
        now = timezone.now()
        mailing = Mailing.objects.create(
            owner=owner, message=message, start_at=now + timedelta(days=1), end_at=now + timedelta(days=30)
        )
        mailing.lists.set(lists[:2])
        Mailing.recipients.through.objects.bulk_create(
            (Mailing.recipients.through(mailing_id=mailing.pk, recipient_id=rid) for rid in ids[-AUDIENCE_CHOSEN:]),
            batch_size=5000,
        )
    print(f"seeded the audience account in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return owner, mailing.pk


def _figures(times: list[float]) -> tuple[float, float]:
    """(requests per second, p95 in ms) of these request durations."""
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 20 else max(times)
    return len(times) / sum(times), p95 * 1000


def measure(client: Client, targets: dict[str, tuple[str, dict[str, str] | None]], *, n: int) -> dict[str, tuple]:
    """Figures per target over n requests each, after a short warm-up.

    The targets take turns request by request, so a burst of load from elsewhere on the machine hits
    them all alike and the ratios between them stay meaningful.
    """
    times: dict[str, list[float]] = {name: [] for name in targets}
    for round_ in range(n + 3):
        for name, (url, headers) in targets.items():
            t0 = time.perf_counter()
            response = client.get(url, headers=headers)
            elapsed = time.perf_counter() - t0
            if headers and response.status_code == 200 and response.has_header("ETag"):
                # The validator changed (the cache lost its versions: another process flushed it): take the new one.
                headers["if-none-match"] = response["ETag"]
            else:
                assert response.status_code == (304 if headers else 200), (url, response.status_code)
            if round_ >= 3:
                times[name].append(elapsed)
    return {name: _figures(samples) for name, samples in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests per cached measurement")
    parser.add_argument("--uncached-requests", type=int, default=20, help="requests per uncached measurement")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; the best of each is kept")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()

    from django.conf import settings

    owner = seed(reseed=args.reseed)
    audience_owner, audience_mailing = seed_audience(reseed=args.reseed)
    client = Client()
    client.force_login(owner)
    client.get(TRIVIAL)
    client.get("/mailings/")  # the CSRF cookie: pages are cacheable from the next request on
    audience_client = Client()
    audience_client.force_login(audience_owner)
    forms = [("mailing form new", "/mailings/new/"), ("mailing form edit", f"/mailings/{audience_mailing}/edit/")]
    for _name, url in forms:
        page = audience_client.get(url).content
        assert b"client99999@example.com" not in page and len(page) < 100_000, (url, len(page))

    results: dict[tuple[str, str], tuple[float, float]] = {}

    def keep(key: tuple[str, str], value: tuple[float, float]) -> None:
        if key not in results or value[0] > results[key][0]:
            results[key] = value

    with override_settings(CACHES=NO_CACHE):
        off = measure(client, {name: (url, None) for name, url in PAGES}, n=args.uncached_requests)
    for name, figures in off.items():
        keep((name, "off"), figures)
    etag = client.get("/stats/")["ETag"]
    targets = {
        "trivial": (TRIVIAL, None),
        **{name: (url, None) for name, url in PAGES},
        "statistics 304": ("/stats/", {"if-none-match": etag}),
    }
    for _ in range(max(1, args.repeat)):
        on = measure(client, targets, n=args.requests)
        keep(("trivial", "-"), on.pop("trivial"))
        for name, figures in on.items():
            keep((name, "on"), figures)
        on = measure(audience_client, {"trivial": (TRIVIAL, None), **{n: (u, None) for n, u in forms}}, n=args.requests)
        keep(("trivial", "-"), on.pop("trivial"))
        for name, figures in on.items():
            keep((name, "on"), figures)

    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, cache {backend}, Django test Client")
    print(f"{'page':<18}{'cache':>6}{'req/s':>10}{'p95 ms':>10}")
    for name, _url in [("trivial", TRIVIAL), *PAGES, ("statistics 304", "/stats/"), *forms]:
        for mode in ("-", "off", "on"):
            if (name, mode) in results:
                rps, p95 = results[(name, mode)]
                print(f"{name:<18}{mode:>6}{rps:>10.0f}{p95:>10.2f}")
    slowest = min(results[(name, "on")][0] for name, _ in [*PAGES, *forms])
    print(f"cached/trivial={slowest / results[('trivial', '-')][0]:.2f}")


if __name__ == "__main__":
    main()
