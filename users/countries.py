"""The country list in the reader's language, in that language's alphabetical order."""

import unicodedata

from django_countries import countries


def _collation_key(name: str) -> str:
    # django-countries sorts by the name's ASCII letters, which leaves Cyrillic names in the English order.
    # Russian order is the code-point order of а..я once ё counts as е; й stays a letter of its own, while
    # Latin letters lose their accents (Åland after Albania, as in English).
    folded = name.casefold().replace("ё", "е")
    return "".join(char if "\u0400" <= char <= "\u04ff" else unicodedata.normalize("NFKD", char)[0] for char in folded)


def countries_sorted() -> list[tuple[str, str]]:
    """(code, name) for every country, with the library's names in the active language, sorted by name."""
    return sorted(
        ((country.code, str(country.name)) for country in countries), key=lambda item: _collation_key(item[1])
    )
