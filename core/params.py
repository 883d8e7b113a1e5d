"""Reading values that come from a URL's query string: never trust, never crash."""

import re

# Control characters (and NUL, which PostgreSQL refuses in text) have no place in a search.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Larger ids overflow the database's 64-bit integers (SQLite raises OverflowError).
_MAX_ID_DIGITS = 18


def parse_id(value: str) -> int | None:
    """`"42"` or `"#42"` → 42; anything else (Unicode digits such as "²", signs, huge numbers) → None."""
    value = value.strip().lstrip("#")
    if not value or not value.isascii() or not value.isdecimal() or len(value) > _MAX_ID_DIGITS:
        return None
    return int(value)


def clean_search(value: str, *, limit: int = 200) -> str:
    """A search string fit for any database: no control characters, bounded length."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]
