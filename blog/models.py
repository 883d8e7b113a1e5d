from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from blog.validators import validate_preview


class ArticleQuerySet(models.QuerySet["Article"]):
    def public(self) -> "ArticleQuerySet":
        """Published articles whose publication time has come: what anyone may read."""
        return self.filter(is_published=True, published_at__lte=timezone.now())


class Article(models.Model):
    """Статья блога: shown to everyone once published, on the blog pages and the home page."""

    title = models.CharField(_("заголовок"), max_length=200)
    body = models.TextField(_("текст"))
    preview = models.ImageField(_("изображение"), upload_to="blog/%Y/%m/", blank=True, validators=[validate_preview])
    is_published = models.BooleanField(_("опубликована"), default=False)
    published_at = models.DateTimeField(
        _("дата публикации"),
        null=True,
        blank=True,
        help_text=_("Если пусто — момент публикации. Дата в будущем откладывает публикацию."),
    )
    views_count = models.PositiveIntegerField(_("просмотры"), default=0)
    created_at = models.DateTimeField(_("создана"), auto_now_add=True)
    updated_at = models.DateTimeField(_("изменена"), auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        verbose_name = _("статья")
        verbose_name_plural = _("статьи")
        ordering = ["-published_at", "-pk"]
        indexes = [
            # The public list and the home page's random pick: is_published=True, published_at <= now.
            models.Index(fields=["is_published", "published_at"], name="article_public_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_published=False) | Q(published_at__isnull=False),
                name="article_published_has_date",
                violation_error_message=_("У опубликованной статьи должна быть дата публикации."),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        # Django's documented pattern: publishing without a date means "now".
        if self.is_published and self.published_at is None:
            self.published_at = timezone.now()

    @property
    def is_public(self) -> bool:
        return self.is_published and self.published_at is not None and self.published_at <= timezone.now()
