"""`{% memo %}`: a fragment of the layout rendered once per process for each language and what it names.

The navigation, the account menu, the static links and the footer are the same on every request that
shares the language, the address space and the tag's arguments (`{% memo request.resolver_match.url_name %}`),
yet rendering them cost about a millisecond a page: some thirty `{% url %}`, `{% static %}` and
`{% translate %}` tags (issue 21, "Reports at scale"). Each tag keeps its renderings on its template node, so
a template reloaded in development starts afresh, and a changed setting (override_settings in tests: the
static files' storage, the URLs) forgets every rendering.

Only for markup that depends on nothing else: no data from the database, nothing of the user but what
the arguments name, no CSRF token, no request path.
"""

from typing import Any
from weakref import WeakSet

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.urls import get_script_prefix, get_urlconf
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

# Languages x sections x permission sets stay far below this; the bound is against a mistake.
MAX_RENDERINGS = 512

_nodes: "WeakSet[MemoNode]" = WeakSet()


class MemoNode(template.Node):
    def __init__(self, nodelist: NodeList, vary_on: list[FilterExpression]) -> None:
        self.nodelist = nodelist
        self.vary_on = vary_on
        self.renderings: dict[tuple[Any, ...], SafeString] = {}
        _nodes.add(self)

    def render(self, context: template.Context) -> SafeString:
        key = (
            get_language(),
            get_script_prefix(),
            get_urlconf() or settings.ROOT_URLCONF,
            *(expression.resolve(context) for expression in self.vary_on),
        )
        html = self.renderings.get(key)
        if html is None:
            html = self.nodelist.render(context)
            if len(self.renderings) >= MAX_RENDERINGS:
                self.renderings.clear()
            self.renderings[key] = html
        return html


@register.tag
def memo(parser: Parser, token: Token) -> MemoNode:
    """`{% memo [value ...] %}...{% endmemo %}`: see the module's docstring for what may go inside."""
    vary_on = [parser.compile_filter(bit) for bit in token.split_contents()[1:]]
    nodelist = parser.parse(("endmemo",))
    parser.delete_first_token()
    return MemoNode(nodelist, vary_on)


@receiver(setting_changed)
def _forget_renderings(**kwargs: Any) -> None:
    for node in list(_nodes):
        node.renderings.clear()
