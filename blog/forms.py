from django import forms

from blog.models import Article
from core.forms import BootstrapFormMixin


class ArticleForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Article
        fields = ["title", "body", "preview", "is_published", "published_at"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 14}),
            "preview": forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}),
            "published_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        }
