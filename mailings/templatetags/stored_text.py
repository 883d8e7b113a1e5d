"""`{% load stored_text %}`: the engine's stored texts in the reader's language (mailings/stored_text.py)."""

from django import template

from mailings import stored_text as texts

register = template.Library()


@register.filter
def stored_text(value: str) -> str:
    return texts.stored_text(str(value or ""))


@register.filter
def stored_summary(value: str) -> str:
    return texts.stored_summary(str(value or ""))
