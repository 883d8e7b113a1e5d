from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from users.models import User
from users.roles import GROUPS, groups_ensure


class Command(BaseCommand):
    help = "Create the staff groups («Менеджеры», ...) with their permissions; --add puts a user into one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--add", metavar="EMAIL", action="append", default=[], help="add this user to the group")
        parser.add_argument(
            "--group", default="Менеджеры", choices=sorted(GROUPS), help="group for --add (default: Менеджеры)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        groups = groups_ensure()
        for name, group in groups.items():
            self.stdout.write(f"Group «{name}»: {group.permissions.count()} permissions.")
        for email in options["add"]:
            user = User.objects.filter(email__iexact=email.strip()).first()
            if user is None:
                raise CommandError(f"No user with email {email!r}.")
            user.groups.add(groups[options["group"]])
            self.stdout.write(f"{user.email} is in «{options['group']}».")
