"""A message's body as the parts of an email: Markdown → sanitised HTML in the email layout, and text.

Rendering happens once per run (and once per form check), never per recipient: placeholders are
swapped for inert tokens before Markdown sees the text, survive rendering and sanitising, and the
result is split back into a `Template` whose placeholders the composer fills per recipient (values
HTML-escaped in the HTML part).

Safety: raw HTML in the Markdown is not interpreted (markdown-it's `html` option off), and the output
is cleaned by nh3 (an allow-list: no script, style, form, iframe or event attribute survives);
images keep only absolute http(s) addresses (a relative one means nothing in a mail client).
"""

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import nh3
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from mailings.content.placeholders import Placeholder, PlaceholderError, Template, literal, parse, parse_or_literal

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

FORMAT_PLAIN = "plain"
FORMAT_MARKDOWN = "markdown"

# A message larger than this is clipped by Gmail ("[Message clipped]") and scores worse.
LARGE_MESSAGE_BYTES = 100 * 1024

_TOKEN = re.compile(r"XvstnkPH(\d+)PHx")

_ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "hr", "i", "img", "li",
    "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
# Email clients ignore or rewrite <style> blocks unevenly: the essentials go inline on each element.
_INLINE_STYLES = {
    "p": "margin:0 0 16px 0;",
    "h1": "margin:0 0 16px 0;font-size:24px;line-height:1.3;",
    "h2": "margin:0 0 12px 0;font-size:20px;line-height:1.3;",
    "h3": "margin:0 0 12px 0;font-size:18px;line-height:1.3;",
    "a": "color:#0b57d0;",
    "img": "max-width:100%;height:auto;border:0;",
    "blockquote": "margin:0 0 16px 0;padding:0 0 0 12px;border-left:3px solid #d0d4da;color:#4a5058;",
    "pre": "margin:0 0 16px 0;padding:12px;background:#f3f4f6;white-space:pre-wrap;",
    "table": "border-collapse:collapse;margin:0 0 16px 0;",
    "th": "border:1px solid #d0d4da;padding:4px 8px;",
    "td": "border:1px solid #d0d4da;padding:4px 8px;",
}


@lru_cache(maxsize=1)
def _markdown() -> "MarkdownIt":
    # Imported on first use: a worker that sends only plain messages does not load the parser.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


@dataclass(frozen=True)
class RenderedBody:
    text: Template
    html: Template | None  # None: a plain message, one text/plain part
    warnings: tuple[str, ...]


def _is_absolute(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not _is_absolute(value):
        return None
    return value


def sanitise(fragment: str) -> str:
    """The HTML fragment with everything outside the allow-list removed."""
    return nh3.clean(
        fragment,
        tags=_ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto"},
        set_tag_attribute_values={tag: {"style": style} for tag, style in _INLINE_STYLES.items()},
    )


class _TextOf(HTMLParser):
    """The text part derived from the sanitised HTML: paragraphs, list items, links as «text (address)»."""

    _BLOCKS = {"p", "h1", "h2", "h3", "h4", "blockquote", "pre", "table", "ul", "ol", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.href: list[str] = []
        self.link_text: list[str] = []
        self.lists: list[list[int]] = []
        self.pre = 0

    def _newlines(self, n: int) -> None:
        text = "".join(self.out)
        have = len(text) - len(text.rstrip("\n"))
        if text and have < n:
            self.out.append("\n" * (n - have))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag in self._BLOCKS:
            self._newlines(2)
        if tag in ("ul", "ol"):
            self.lists.append([0 if tag == "ol" else -1])
        elif tag == "li":
            self._newlines(1)
            marker = "- "
            if self.lists and self.lists[-1][0] >= 0:
                self.lists[-1][0] += 1
                marker = f"{self.lists[-1][0]}. "
            self.out.append("  " * max(0, len(self.lists) - 1) + marker)
        elif tag == "br":
            self.out.append("\n")
        elif tag == "hr":
            self.out.append("----")
        elif tag == "pre":
            self.pre += 1
        elif tag == "a":
            self.href.append(attr.get("href") or "")
            self.link_text.append("")
        elif tag == "img":
            self.out.append(f"[{attr.get('alt') or _('изображение')}]")
        elif tag in ("td", "th"):
            self.out.append(" | " if not "".join(self.out).endswith("\n") else "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BLOCKS:
            self._newlines(2)
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "tr":
            self._newlines(1)
        elif tag == "pre":
            self.pre -= 1
        elif tag == "a" and self.href:
            href, text = self.href.pop(), self.link_text.pop()
            if href and href.removeprefix("mailto:") != text.strip():
                self.out.append(f" ({href.removeprefix('mailto:')})")

    def handle_data(self, data: str) -> None:
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if "".join(self.out[-1:]).endswith(("\n", " ")) or not self.out:
                data = data.lstrip()
        if self.link_text:
            self.link_text[-1] += data
        self.out.append(data)

    def text(self) -> str:
        text = "\n".join(line.rstrip() for line in "".join(self.out).strip().split("\n"))
        return re.sub(r"\n{3,}", "\n\n", text) + "\n"


def _split(text: str, placeholders: list[Placeholder]) -> Template:
    parts: list[str | Placeholder] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        if match.start() > pos:
            parts.append(text[pos : match.start()])
        parts.append(placeholders[int(match[1])])
        pos = match.end()
    if pos < len(text):
        parts.append(text[pos:])
    return Template(parts=tuple(parts))


def _inside_tag(text: str, index: int) -> bool:
    return text.rfind("<", 0, index) > text.rfind(">", 0, index)


def _image_warnings(source: str) -> list[str]:
    warnings = []
    for token in _markdown().parse(source):
        for child in token.children or []:
            if child.type == "image" and not _is_absolute(str(child.attrGet("src") or "")):
                warnings.append(
                    _("Изображение «%(src)s» без абсолютного адреса (https://…) не будет показано.")
                    % {"src": child.attrGet("src")}
                )
    return warnings


def render_body(*, body: str, format: str, strict: bool = False) -> RenderedBody:
    """The body's parts. `strict`: PlaceholderError on bad syntax (forms); otherwise such text is literal.

    Raises PlaceholderError (strict) also for a placeholder inside a link or image address other than
    the unsubscribe link: a recipient's name or comment must never become an address.
    """
    template = parse(body) if strict else parse_or_literal(body)
    if format != FORMAT_MARKDOWN:
        return RenderedBody(text=template, html=None, warnings=())
    placeholders = [p for p in template.parts if isinstance(p, Placeholder)]
    source, n = [], 0
    for part in template.parts:
        if isinstance(part, str):
            source.append(part)
        else:
            source.append(f"XvstnkPH{n}PHx")
            n += 1
    markdown_source = "".join(source)
    fragment = sanitise(_markdown().render(markdown_source))
    for match in _TOKEN.finditer(fragment):
        placeholder = placeholders[int(match[1])]
        if _inside_tag(fragment, match.start()) and placeholder.field != "unsubscribe_url":
            if strict:
                line, column = placeholder.where
                raise PlaceholderError(
                    _("в адресе ссылки или изображения можно подставлять только ссылку отписки"),
                    line=line,
                    column=column,
                )
            return render_body(body=html.escape(body).replace("{", "&#123;"), format=format)
    page = render_to_string("emails/mailing_body.html", {"content": mark_safe(fragment)})  # noqa: S308 sanitised by nh3
    parser = _TextOf()
    parser.feed(fragment)
    parser.close()
    return RenderedBody(
        text=_split(parser.text(), placeholders),
        html=_split(page, placeholders),
        warnings=tuple(_image_warnings(markdown_source)),
    )


__all__ = ["FORMAT_MARKDOWN", "FORMAT_PLAIN", "RenderedBody", "literal", "render_body", "sanitise"]
