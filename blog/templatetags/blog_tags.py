from typing import Any

from django import template

from blog.selectors import article_random_public

register = template.Library()


@register.inclusion_tag("blog/_home_articles.html")
def random_articles(count: int = 3) -> dict[str, Any]:
    """`{% random_articles 3 %}`: up to `count` random published articles (cached for a minute)."""
    return {"articles": article_random_public(count=count)}
