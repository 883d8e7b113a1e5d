from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from users.models import User

DEMO_PASSWORD = "vestnik-demo"


def _ensure_user(email: str, **extra: Any) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=DEMO_PASSWORD, email_confirmed_at=timezone.now(), **extra)
    return user


class Command(BaseCommand):
    help = "Create the demo accounts and demo data (idempotent: running it again changes nothing)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        _ensure_user("demo@vestnik.local", first_name="Демо", last_name="Пользователь")
        _ensure_user("admin@vestnik.local", first_name="Администратор", is_staff=True, is_superuser=True)
        self.stdout.write("Demo data is in place.")
