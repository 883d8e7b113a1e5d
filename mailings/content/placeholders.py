"""Personalisation placeholders: a tiny explicit language, parsed once, rendered per recipient.

Syntax (README, «Персонализация»): `{{ имя }}` or `{{ имя|default:"клиент" }}`. Only the names in
`NAMES` exist and only the `default` filter; there is no attribute or method access and nothing is
evaluated, so a message can never reach anything but the recipient's own documented values. Django
templates are deliberately not used: their attribute lookups would expose whatever object is passed.

An owner's text is checked when the form is saved (`parse` raises PlaceholderError saying where);
the composer parses again once per run, never per recipient.
"""

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.translation import gettext as _

# Placeholder name → the recipient value it stands for. Russian and English spellings of each.
NAMES: dict[str, str] = {
    "имя": "name",
    "name": "name",
    "email": "email",
    "почта": "email",
    "комментарий": "comment",
    "comment": "comment",
    # The personal unsubscribe link (suppressions/links.py); without it in the body a footer with it is appended.
    "ссылка_отписки": "unsubscribe_url",
    "unsubscribe_url": "unsubscribe_url",
}

_OPEN = "{{"
_CLOSE = "}}"
# Inside the braces: a name, then optionally |default:"text" (no double quote or brace in the text).
_INSIDE = re.compile(r'\s*(?P<name>[^\s|{}"]+)\s*(?:\|\s*(?P<filter>[^\s:{}"]+)\s*(?::\s*"(?P<arg>[^"{}]*)")?\s*)?$')


class PlaceholderError(ValueError):
    """Broken syntax or an unknown name; `where` is (line, column), both from 1."""

    def __init__(self, message: str, *, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Placeholder:
    field: str  # a value of NAMES
    default: str
    # Where it stands in the owner's text (line, column), for errors found after parsing.
    where: tuple[int, int] = dataclasses.field(default=(0, 0), compare=False)


Part = str | Placeholder


@dataclass(frozen=True)
class Template:
    parts: tuple[Part, ...]

    @property
    def is_static(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(p.field for p in self.parts if isinstance(p, Placeholder))

    def render(self, values: Mapping[str, str]) -> str:
        return "".join(p if isinstance(p, str) else (values.get(p.field) or p.default) for p in self.parts)


def _where(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _error(text: str, index: int, message: str) -> PlaceholderError:
    line, column = _where(text, index)
    return PlaceholderError(message, line=line, column=column)


def parse(text: str) -> Template:
    """The template of `text`, or PlaceholderError at the first problem."""
    parts: list[Part] = []
    pos = 0
    while True:
        start = text.find(_OPEN, pos)
        stray = text.find(_CLOSE, pos)
        if stray != -1 and (start == -1 or stray < start):
            raise _error(text, stray, _("«}}» без открывающих «{{»"))
        if start == -1:
            break
        end = text.find(_CLOSE, start + 2)
        nested = text.find(_OPEN, start + 2)
        if end == -1 or (nested != -1 and nested < end):
            raise _error(text, start, _("«{{» без закрывающих «}}»"))
        match = _INSIDE.match(text[start + 2 : end])
        if match is None:
            raise _error(text, start, _('непонятная подстановка: пишите {{ имя }} или {{ имя|default:"текст" }}'))
        name = match["name"]
        if name.lower() not in NAMES:
            raise _error(
                text,
                start,
                _("неизвестное имя «%(name)s»; доступны: %(names)s") % {"name": name, "names": ", ".join(NAMES)},
            )
        if match["filter"] is not None and (match["filter"] != "default" or match["arg"] is None):
            raise _error(
                text,
                start,
                _('неизвестный фильтр «%(filter)s»; есть только default:"текст"') % {"filter": match["filter"]},
            )
        if start > pos:
            parts.append(text[pos:start])
        parts.append(Placeholder(field=NAMES[name.lower()], default=match["arg"] or "", where=_where(text, start)))
        pos = end + 2
    if pos < len(text):
        parts.append(text[pos:])
    return Template(parts=tuple(parts))


def literal(text: str) -> Template:
    """`text` as it is: messages stored before personalisation existed may contain braces."""
    return Template(parts=(text,) if text else ())


def parse_or_literal(text: str) -> Template:
    try:
        return parse(text)
    except PlaceholderError:
        return literal(text)
