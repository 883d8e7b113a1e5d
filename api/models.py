"""Personal API tokens and the stored answers of Idempotency-Key requests (docs/architecture.md, "API")."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX_LENGTH = 8


def token_hash(raw: str) -> str:
    """sha256 of the token: a random 256-bit secret needs no slow hash, and a lookup by hash is one index read."""
    return hashlib.sha256(raw.encode()).hexdigest()


def token_generate() -> str:
    return secrets.token_urlsafe(32)


class ApiToken(models.Model):
    """A personal API token: only its hash is stored; the owner sees the token once, when it is made."""

    class Scope(models.TextChoices):
        READ = "read", _("Только чтение")
        WRITE = "write", _("Чтение и запись")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("владелец"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("название"), max_length=100)
    prefix = models.CharField(_("начало токена"), max_length=TOKEN_PREFIX_LENGTH)
    # The authentication lookup (api/auth.py) reads by this unique index.
    token_hash = models.CharField(_("хеш токена"), max_length=64, unique=True)
    scope = models.CharField(_("права"), max_length=8, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(_("создан"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("последнее использование"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("отозван"), null=True, blank=True)

    class Meta:
        verbose_name = _("токен API")
        verbose_name_plural = _("токены API")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def may_write(self) -> bool:
        return self.scope == self.Scope.WRITE


class IdempotentRequest(models.Model):
    """One Idempotency-Key of one user: the request's fingerprint and, once it finished, the answer given.

    The row is inserted before the work starts; the unique constraint makes a concurrent retry lose the insert,
    so a retried «send now» never starts a second run. Rows older than IDEMPOTENCY_TTL are deleted when a key
    is next used (api/idempotency.py).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.BinaryField(blank=True, default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint("user", "key", name="idempotent_request_unique_key_per_user")]
        # The expiry sweep (api/idempotency.py) deletes by age.
        indexes = [models.Index(fields=["created_at"], name="idempotent_request_created")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.key}"
