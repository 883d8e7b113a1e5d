import pytest

from core.params import clean_search, parse_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [("42", 42), ("#7", 7), (" 3 ", 3), ("²", None), ("٣", None), ("-1", None), ("1e3", None), ("", None)],
)
def test_parse_id_accepts_plain_decimal_ids_only(value: str, expected: int | None) -> None:
    assert parse_id(value) == expected


def test_parse_id_refuses_numbers_the_database_cannot_hold() -> None:
    assert parse_id("9" * 30) is None


def test_clean_search_drops_nul_and_control_characters_and_bounds_the_length() -> None:
    assert clean_search("ан\x00на\tи\nво") == "ан на и во"
    assert len(clean_search("x" * 1000)) == 200
