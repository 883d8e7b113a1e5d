from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from blog import services
from blog.models import Article


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "is_published", "published_at", "views_count", "updated_at"]
    list_filter = ["is_published", "published_at"]
    search_fields = ["title", "body"]
    date_hierarchy = "published_at"
    readonly_fields = ["views_count", "created_at", "updated_at"]
    fields = ["title", "body", "preview", "is_published", "published_at", "views_count", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Article, form: ModelForm, change: bool) -> None:
        services.article_save(article=obj)

    def delete_model(self, request: HttpRequest, obj: Article) -> None:
        services.article_delete(article=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        for article in queryset:
            services.article_delete(article=article)
