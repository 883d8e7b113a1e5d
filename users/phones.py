"""Phone numbers: stored as E.164, shown as people write them in the number's country."""

import phonenumbers

DEFAULT_REGION = "RU"


def phone_e164(value: str, *, country: str = "") -> str:
    """`value` (already validated) as E.164; a number without a country code is read as `country`'s, else Russian."""
    value = value.strip()
    if not value:
        return ""
    number = phonenumbers.parse(value, (country or DEFAULT_REGION).upper())
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_display(value: str, *, country: str = "") -> str:
    """The national format for a number of the owner's country (8 (912) 345-67-89), else the international one.

    A value stored before numbers were normalised, that does not parse, is shown as it is.
    """
    if not value:
        return ""
    region = (country or DEFAULT_REGION).upper()
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value
    if phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
