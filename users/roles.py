"""The staff groups and their permissions, created idempotently."""

import logging

from django.contrib.auth.models import Group, Permission
from django.db import transaction

logger = logging.getLogger(__name__)

MANAGERS_GROUP = "Менеджеры"

# (app_label, codename): managers read everything and change only the enabled
# flag of mailings and SMTP accounts and the blocked state of users — no change/delete permissions.
MANAGER_PERMISSIONS = [
    ("users", "view_all_users"),
    ("users", "block_user"),
    ("mailings", "view_all_recipients"),
    ("mailings", "view_all_messages"),
    ("mailings", "view_all_mailings"),
    ("mailings", "disable_mailing"),
    ("senders", "view_all_smtp_accounts"),
    ("senders", "disable_smtp_account"),
    ("audience", "view_all_lists"),
    ("suppressions", "view_all_suppressions"),
]

CONTENT_MANAGERS_GROUP = "Контент-менеджеры"

# Content managers write the blog and nothing else.
CONTENT_MANAGER_PERMISSIONS = [
    ("blog", "add_article"),
    ("blog", "change_article"),
    ("blog", "delete_article"),
    ("blog", "view_article"),
]

GROUPS: dict[str, list[tuple[str, str]]] = {
    MANAGERS_GROUP: MANAGER_PERMISSIONS,
    CONTENT_MANAGERS_GROUP: CONTENT_MANAGER_PERMISSIONS,
}


def groups_ensure() -> dict[str, Group]:
    """Create the staff groups and set exactly their permissions; safe to run again."""
    result = {}
    with transaction.atomic():
        for name, perms in GROUPS.items():
            group, created = Group.objects.get_or_create(name=name)
            wanted = [
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
                for app_label, codename in perms
            ]
            group.permissions.set(wanted)
            if created:
                logger.info("group created: %s", name)
            result[name] = group
    return result
