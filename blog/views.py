import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from blog import selectors, services
from blog.forms import ArticleForm

logger = logging.getLogger(__name__)

ARTICLES_PER_PAGE = 10
MANAGE_ARTICLES_PER_PAGE = 25


@require_safe
def article_list(request: HttpRequest) -> HttpResponse:
    articles = selectors.article_public_qs()
    page = Paginator(articles, ARTICLES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "blog/article_list.html", {"page": page, "articles": page.object_list})


@require_safe
def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(selectors.article_visible_qs(user=request.user), pk=pk)
    services.article_register_view(article=article, session=request.session)
    return render(request, "blog/article_detail.html", {"article": article})


@login_required
@permission_required("blog.view_article", raise_exception=True)
@require_safe
def article_manage_list(request: HttpRequest) -> HttpResponse:
    # Drafts (no publication date) first: they are what a content manager is working on.
    articles = selectors.article_manage_qs().order_by(F("published_at").desc(nulls_first=True), "-pk")
    page = Paginator(articles, MANAGE_ARTICLES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "blog/manage_list.html", {"page": page, "articles": page.object_list})


@login_required
@permission_required("blog.add_article", raise_exception=True)
@require_http_methods(["GET", "POST"])
def article_create(request: HttpRequest) -> HttpResponse:
    form = ArticleForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        article = services.article_create(
            title=data["title"],
            body=data["body"],
            preview=data["preview"] or None,
            is_published=data["is_published"],
            published_at=data["published_at"],
        )
        messages.success(request, _("Статья «%(title)s» создана.") % {"title": article.title})
        return redirect("blog:manage")
    return render(request, "blog/article_form.html", {"form": form, "article": None})


@login_required
@permission_required("blog.change_article", raise_exception=True)
@require_http_methods(["GET", "POST"])
def article_update(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(selectors.article_manage_qs(), pk=pk)
    # The form validates a copy: a rejected form must not leave half-applied values on `article`.
    form = ArticleForm(request.POST or None, request.FILES or None, instance=selectors.article_manage_qs().get(pk=pk))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.article_update(
            article=article,
            title=data["title"],
            body=data["body"],
            preview=data["preview"],
            is_published=data["is_published"],
            published_at=data["published_at"],
        )
        messages.success(request, _("Статья «%(title)s» сохранена.") % {"title": article.title})
        return redirect("blog:manage")
    return render(request, "blog/article_form.html", {"form": form, "article": article})


@login_required
@permission_required("blog.delete_article", raise_exception=True)
@require_http_methods(["GET", "POST"])
def article_delete(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(selectors.article_manage_qs(), pk=pk)
    if request.method == "POST":
        title = article.title
        services.article_delete(article=article)
        messages.success(request, _("Статья «%(title)s» удалена.") % {"title": title})
        return redirect("blog:manage")
    return render(request, "blog/article_confirm_delete.html", {"article": article})
