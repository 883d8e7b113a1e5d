"""Known mailbox providers: the values the account form fills in when one is chosen (static/js/smtp_presets.js).

The limits are the providers' published ones for ordinary mailboxes, rounded down; an owner with a
business plan raises them. Where to create an app password is said in the preset's help text.
"""

from dataclasses import asdict, dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Preset:
    key: str
    label: str | Promise
    host: str
    port: int
    security: str
    limit_per_second: float
    limit_per_hour: int
    limit_per_day: int
    help: str | Promise

    def values(self) -> dict[str, object]:
        data = asdict(self)
        for name in ("label", "help"):
            data[name] = str(data[name])
        return data


PRESETS = [
    Preset(
        key="yandex",
        label=_("Яндекс Почта"),
        host="smtp.yandex.ru",
        port=465,
        security="ssl",
        limit_per_second=1,
        limit_per_hour=0,
        limit_per_day=500,
        help=_(
            "Пароль приложения: id.yandex.ru → «Безопасность» → «Пароли приложений» → «Почта». "
            "Логин — адрес ящика целиком. Яндекс пропускает около 500 писем в сутки."
        ),
    ),
    Preset(
        key="mailru",
        label=_("Почта Mail.ru"),
        host="smtp.mail.ru",
        port=465,
        security="ssl",
        limit_per_second=1,
        limit_per_hour=0,
        limit_per_day=500,
        help=_(
            "Пароль для внешнего приложения: id.mail.ru → «Безопасность» → «Пароли для внешних приложений». "
            "Логин — адрес ящика целиком."
        ),
    ),
    Preset(
        key="gmail",
        label=_("Gmail (пароль приложения)"),
        host="smtp.gmail.com",
        port=587,
        security="starttls",
        limit_per_second=1,
        limit_per_hour=0,
        limit_per_day=500,
        help=_(
            "Включите двухэтапную аутентификацию, затем myaccount.google.com → «Безопасность» → «Пароли "
            "приложений». Обычный пароль Google не подойдёт. Gmail пропускает около 500 писем в сутки."
        ),
    ),
    Preset(
        key="hosting",
        label=_("Почта на хостинге (типичные ограничения)"),
        host="",
        port=465,
        security="ssl",
        limit_per_second=1,
        limit_per_hour=500,
        limit_per_day=0,
        help=_(
            "Сервер SMTP и пароль ящика — в панели хостинга (обычно smtp.ваш-домен.ru). Типичные ограничения "
            "российских хостингов: 60 писем в минуту и 500 в час; уточните свои у хостинга."
        ),
    ),
]

PRESETS_BY_KEY = {preset.key: preset for preset in PRESETS}
