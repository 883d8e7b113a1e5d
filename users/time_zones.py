"""The time zones an owner may choose (`User.time_zone`): Russia's first, by city, then every zone the system knows."""

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# West to east; Russia keeps no DST, so each has one offset all year.
RUSSIAN_ZONES = [
    ("Europe/Kaliningrad", _("Калининград")),
    ("Europe/Moscow", _("Москва")),
    ("Europe/Samara", _("Самара")),
    ("Asia/Yekaterinburg", _("Екатеринбург")),
    ("Asia/Omsk", _("Омск")),
    ("Asia/Novosibirsk", _("Новосибирск")),
    ("Asia/Krasnoyarsk", _("Красноярск")),
    ("Asia/Irkutsk", _("Иркутск")),
    ("Asia/Yakutsk", _("Якутск")),
    ("Asia/Vladivostok", _("Владивосток")),
    ("Asia/Magadan", _("Магадан")),
    ("Asia/Kamchatka", _("Петропавловск-Камчатский")),
]


@lru_cache(maxsize=1)
def _all_zone_names() -> tuple[str, ...]:
    # available_timezones() reads the tz database from disk on every call: once per process is enough.
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


def _offset(name: str) -> str:
    """«UTC+7», «UTC−3:30», «UTC» for the zone's offset right now (it may change with DST)."""
    offset = datetime.now(ZoneInfo(name)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def time_zone_choices() -> list[tuple[str, object]]:
    """The select's choices: the service's zone (empty value), Russia's zones by city, then all the others."""
    russian = [(name, f"{city} — {name} ({_offset(name)})") for name, city in RUSSIAN_ZONES]
    taken = {name for name, _city in RUSSIAN_ZONES}
    others = [(name, f"{name} ({_offset(name)})") for name in _all_zone_names() if name not in taken]
    return [
        ("", gettext("Как у сервиса: %(zone)s") % {"zone": settings.TIME_ZONE}),
        (gettext("Россия"), russian),
        (gettext("Все часовые пояса"), others),
    ]
